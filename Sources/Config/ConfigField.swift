import Algorithms

/// One field of `RunConfig`: its names, where it lives, what it accepts and how `--help`
/// describes it. `RunConfig.fields` is the table of them all.
public struct ConfigField: @unchecked Sendable {
    /// The sections of a run config, as config files name them.
    public enum Section: String, CaseIterable, Sendable {
        case data, model, optimizer, schedule, algorithm, async, execution
    }

    /// Flat snake_case name, as config.json and config files write it (`batch_size`); the flag
    /// is its kebab-case form (`--batch-size`).
    public let name: String
    public let section: Section
    /// The name inside the section (`schedule.batch_size`; `model.kind` for `model`).
    public let key: String
    public let keyPath: AnyKeyPath
    public let range: FieldRange?
    /// The words an enumerated field takes (or how its words read, for `auto` settings).
    public let choices: [String]?
    /// Longest text of string fields, in bytes.
    public let maxLength: Int?
    /// What the field does; `help` adds the range (where `{range}` stands, else at the end) and
    /// the default. Enumerated fields' choices are left to the flag's own list of values.
    public let summary: String
    /// Said instead of the default value (for fields whose default is worked out).
    let defaultNote: String?
    let isIntegerList: Bool
    let encode: (RunConfig, inout KeyedEncodingContainer<FieldKey>) throws -> Void
    let decode: (inout RunConfig, KeyedDecodingContainer<FieldKey>) throws -> Void
    let show: (RunConfig) -> String?

    /// `section.key`, as config files may write it.
    public var path: String { section.rawValue + "." + key }
    /// `--batch-size`.
    public var flag: String { "--" + name.replacingOccurrences(of: "_", with: "-") }

    /// The flag's help: summary, range and default, e.g. "Epochs to train, 1 to 10000 (default 10)."
    public var help: String {
        var text = summary
        if let range {
            let words = (range.maxItems == nil ? "" : "each ") + range.text
            text = text.contains("{range}") ? text.replacingOccurrences(of: "{range}", with: words) : text + ", " + words
        }
        if let note = defaultNote ?? show(RunConfig()) { text += " (default \(note))" }
        return text + "."
    }

    /// A field that always holds a value: left out of a file, it keeps the base's.
    init<Value: Codable>(_ name: String, _ section: Section, key: String? = nil, _ keyPath: WritableKeyPath<RunConfig, Value>,
                         range: FieldRange? = nil, choices: [String]? = nil, maxLength: Int? = nil,
                         defaultNote: String? = nil, _ summary: String) {
        let codingKey = FieldKey(name)
        self.init(name, section, key, keyPath, range, choices, maxLength, summary, defaultNote,
                  isIntegerList: Value.self == [Int].self,
                  encode: { config, c in try c.encode(config[keyPath: keyPath], forKey: codingKey) },
                  decode: { config, c in
                      if c.contains(codingKey) { config[keyPath: keyPath] = try c.decode(Value.self, forKey: codingKey) }
                  },
                  show: { ConfigField.describe($0[keyPath: keyPath]) })
    }

    /// An enumerated field: its choices are the type's raw values.
    init<Value: Codable & CaseIterable & RawRepresentable>(_ name: String, _ section: Section, key: String? = nil,
                                                           _ keyPath: WritableKeyPath<RunConfig, Value>, _ summary: String)
    where Value.RawValue == String {
        self.init(name, section, key: key, keyPath, choices: Value.allCases.map(\.rawValue), summary)
    }

    /// A field that may be unset (nil): null or left out in a file, and left out of config.json.
    init<Wrapped: Codable>(optional name: String, _ section: Section, key: String? = nil, _ keyPath: WritableKeyPath<RunConfig, Wrapped?>,
                           range: FieldRange? = nil, maxLength: Int? = nil, defaultNote: String? = nil, _ summary: String) {
        let codingKey = FieldKey(name)
        self.init(name, section, key, keyPath, range, nil, maxLength, summary, defaultNote,
                  isIntegerList: Wrapped.self == [Int].self,
                  encode: { config, c in try c.encodeIfPresent(config[keyPath: keyPath], forKey: codingKey) },
                  decode: { config, c in config[keyPath: keyPath] = try c.decodeIfPresent(Wrapped.self, forKey: codingKey) },
                  show: { $0[keyPath: keyPath].flatMap(ConfigField.describe) })
    }

    private init(_ name: String, _ section: Section, _ key: String?, _ keyPath: AnyKeyPath, _ range: FieldRange?,
                 _ choices: [String]?, _ maxLength: Int?, _ summary: String, _ defaultNote: String?, isIntegerList: Bool,
                 encode: @escaping (RunConfig, inout KeyedEncodingContainer<FieldKey>) throws -> Void,
                 decode: @escaping (inout RunConfig, KeyedDecodingContainer<FieldKey>) throws -> Void,
                 show: @escaping (RunConfig) -> String?) {
        self.name = name
        self.section = section
        self.key = key ?? name
        self.keyPath = keyPath
        self.range = range
        self.choices = choices
        self.maxLength = maxLength
        self.summary = summary
        self.defaultNote = defaultNote
        self.isIntegerList = isIntegerList
        self.encode = encode
        self.decode = decode
        self.show = show
    }

    /// A default value as help says it: numbers plainly, on/off, the word of an enumeration.
    static func describe(_ value: Any) -> String? {
        switch value {
        case let flag as Bool: return flag ? "on" : "off"
        case let number as Int: return String(number)
        case let number as UInt64: return String(number)
        case let number as Float: return FieldRange.show(Double(number))
        case let number as Double: return FieldRange.show(number)
        case let list as [Int]: return list.isEmpty ? nil : list.map(String.init).joined(separator: ",")
        case let text as String: return text
        case let h as LocalStepsSetting: return h.text
        case let warmup as WarmupSetting: if case .epochs(let n) = warmup { return String(n) } else { return "auto" }
        case let limit as RateLimitSetting:
            switch limit {
            case .auto: return "auto"
            case .none: return "none"
            case .rate(let r): return FieldRange.show(Double(r))
            }
        case let word as any RawRepresentable: return word.rawValue as? String
        default: return nil
        }
    }
}

/// A flat field name as a coding key.
struct FieldKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}
