import Algorithms
import Foundation
import RunFiles

/// A config file or override that cannot become a `RunConfig`: one sentence naming the file
/// (or flag source), the field and what was expected.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    /// `description` with its control characters written out (`\n`, `\u{1B}`): keys and values
    /// quoted from a file keep a message on one line and out of the terminal's escape codes.
    public init(_ description: String) {
        self.description = String(description.unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
            guard scalar.properties.generalCategory == .control else { return [scalar] }
            switch scalar {
            case "\n": return Array("\\n".unicodeScalars)
            case "\r": return Array("\\r".unicodeScalars)
            case "\t": return Array("\\t".unicodeScalars)
            default: return Array("\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            }
        }.map(Character.init))
    }
}

extension ConfigError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Reads run and sweep files in TOML, YAML or JSON with the CLI's field names and lays them over a `RunConfig`, checking names and types so that a
/// typo is an error naming the file and field, never a silently ignored setting.
public enum ConfigLoader {
    /// Parses TOML (.toml), YAML (.yaml/.yml) or JSON (.json) into its top-level table, with every
    /// key (recursively, so sweep files keep their tables) normalised to snake_case ('-' → '_').
    /// Files are held to `ConfigLimits` (size, nesting, values) before any parser trusts them.
    public static func parseFile(_ path: String) throws -> [String: Any] {
        let data = try AtomicFile.read(path, maxBytes: ConfigLimits.maxBytes)
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("config file '\(path)' is not UTF-8 text.")
        }
        let format = (path as NSString).pathExtension.lowercased()
        let raw: Any
        switch format {
        case "toml": raw = try parseTOML(text, path: path)
        case "yaml", "yml": raw = try YAMLReader.read(text, path: path) ?? [String: Any]()
        case "json": raw = try parseJSON(data, path: path)
        default:
            throw ConfigError("config file '\(path)' has extension '.\(format)'; expected .toml, .yaml, .yml or .json.")
        }
        var values = 0
        guard let table = try normalise(raw, source: path, field: "", depth: 1, values: &values) as? [String: Any] else {
            throw ConfigError("config file '\(path)' must be a table of fields at the top level.")
        }
        return table
    }

    /// `parseFile` then `apply`, with errors naming `path`.
    /// A run's config.json loads too: its `derived` block (what the run computed) is not a setting.
    public static func load(_ path: String, onto base: RunConfig = RunConfig()) throws -> RunConfig {
        var table = try parseFile(path)
        table["derived"] = nil
        return try apply(table, to: base, source: path)
    }

    /// The `source` of flags: errors then name fields as flags (`--epochs`).
    public static let commandLine = "the command line"

    /// Applies `overrides` (snake_case names, flat or `section.key`, or a section's table;
    /// Int/Double/String/Bool/null or lists of them) on top of `base`, then checks names, types
    /// and ranges (`RunConfig.fields`); `source` names the file (or `commandLine`) in errors.
    /// Config files, sweep points and saved config.json files all enter a config here.
    public static func apply(_ overrides: [String: Any], to base: RunConfig, source: String) throws -> RunConfig {
        let fields = try flatten(overrides, source: source)
        // The numbers as given, before a Float field rounds them (0.99999999 is 1 as a Float,
        // and "must be under 1, got 1" would not say what was wrong).
        for key in fields.keys.sorted() {
            guard let range = RunConfig.ranges[key], let value = fields[key] else { continue }
            for case let number as NSNumber in (value as? [Any]) ?? [value] where !(number is Bool) {
                let each = range.maxItems == nil ? "" : "each value of ", x = number.doubleValue
                if !range.contains(x) { throw ConfigError("\(each)\(name(key, source: source)) must be \(range.requirement), got \(number).") }
                if RunConfig.floatFields.contains(key) && !range.contains(Double(Float(x))) {
                    throw ConfigError("\(name(key, source: source)) must be \(range.requirement), got \(number), which is \(Float(x)) as the 32-bit float the run computes with.")
                }
            }
        }
        let config = try decode(fields, onto: base, source: source)
        if let problem = try config.rangeProblem(fields: Set(fields.keys), name: { name($0, source: source) }) {
            throw ConfigError(problem + ".")
        }
        return config
    }

    /// How errors name a field: `--epochs` on the command line, else "field 'epochs' in FILE".
    static func name(_ field: String, source: String) -> String {
        source == commandLine ? "--" + field.replacingOccurrences(of: "_", with: "-") : "field '\(field)' in \(source)"
    }

    /// Normalised overrides by flat field name: `schedule.lr` and `[schedule] lr` become `lr`.
    private static func flatten(_ overrides: [String: Any], source: String) throws -> [String: Any] {
        var values = 0
        guard let overrides = try normalise(overrides, source: source, field: "", depth: 1, values: &values) as? [String: Any] else {
            preconditionFailure("a normalised dictionary is a dictionary")
        }
        var fields: [String: Any] = [:], written: [String: String] = [:]
        func put(_ name: String, _ value: Any, as given: String) throws {
            if let other = written[name] {
                let both = [other, given].sorted()
                throw ConfigError("field '\(name)' is given twice in \(source) (as \(both[0]) and \(both[1])).")
            }
            fields[name] = value
            written[name] = given
        }
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            if let table = value as? [String: Any], RunConfig.sectionNames.contains(key) {
                for (inner, item) in table.sorted(by: { $0.key < $1.key }) {
                    let path = key + "." + inner
                    guard let field = RunConfig.fieldsByPath[path] else {
                        throw unknownField(path, source: source, known: RunConfig.fields.filter { $0.section.rawValue == key }.map(\.path))
                    }
                    try put(field.name, item, as: path)
                }
            } else if key.contains(".") {
                guard let field = RunConfig.fieldsByPath[key] else {
                    throw unknownField(key, source: source, known: RunConfig.fields.map(\.path))
                }
                try put(field.name, value, as: key)
            } else {
                try put(key, value, as: key)
            }
        }
        return fields
    }

    private static func decode(_ overrides: [String: Any], onto base: RunConfig, source: String) throws -> RunConfig {
        for key in overrides.keys.sorted() where !RunConfig.fieldNames.contains(key) {
            throw unknownField(key, source: source, known: RunConfig.fieldNames)
        }
        var fields = overrides
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            if value is [String: Any] {
                throw ConfigError("field '\(key)' in \(source) is a table; a run config takes plain values only. Only sections are tables: \(RunConfig.sectionNames.joined(separator: ", ")).")
            }
            if RunConfig.integerListFields.contains(key), !(value is [Any]), !(value is NSNull) { fields[key] = [value] }
        }
        let baseFields = try base == RunConfig() ? defaultFields ?? encode(base) : encode(base)
        do {
            return try decode(baseFields.merging(fields) { $1 })
        } catch let error as DecodingError {
            throw describe(error, fields: fields, baseFields: baseFields, given: overrides, source: source)
        }
    }

    // MARK: Parsing

    private static func parseTOML(_ text: String, path: String) throws -> Any {
        try TOMLReader.read(text, path: path)
    }

    static func tooDeep(_ source: String) -> ConfigError {
        ConfigError("config '\(source)' nests lists and tables deeper than \(ConfigLimits.maxDepth) levels.")
    }

    private static func parseJSON(_ data: Data, path: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
        } catch {
            // Foundation says "around character N"; a line number is what an editor jumps to.
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            var place = ""
            if let range = detail.range(of: #"character \d+"#, options: .regularExpression),
               let offset = Int(detail[range].dropFirst("character ".count)) {
                place = " at line \(data.prefix(offset).filter { $0 == UInt8(ascii: "\n") }.count + 1)"
            }
            throw ConfigError("config file '\(path)' is not valid JSON\(place): \(detail)")
        }
    }

    /// Keys to snake_case, tables to `[String: Any]`, and only JSON-compatible leaves. `depth`
    /// is the level `value` sits at (the top table's is 1); lists and tables count, scalars do not.
    /// `values` counts every value seen, against `ConfigLimits.maxValues` (in every format).
    private static func normalise(_ value: Any, source: String, field: String, depth: Int, values: inout Int) throws -> Any {
        values += 1
        guard values <= ConfigLimits.maxValues else {
            throw ConfigError("config '\(source)' holds more than \(ConfigLimits.maxValues) values.")
        }
        func named(_ key: String) -> String { field.isEmpty ? key : "\(field).\(key)" }
        // Lists and tables before NSNull and NSNumber: casting a Swift array to a class first
        // bridges it to an NSArray, a copy of every element at every level (a YAML file of 67,000
        // values through aliases took 0.8 s).
        switch value {
        case is String:
            return value
        case let list as [Any]:
            guard depth <= ConfigLimits.maxDepth else { throw tooDeep(source) }
            return try list.map { try normalise($0, source: source, field: field, depth: depth + 1, values: &values) }
        case let table as [AnyHashable: Any]:
            guard depth <= ConfigLimits.maxDepth else { throw tooDeep(source) }
            var result: [String: Any] = [:]
            for (rawKey, item) in table {
                guard let key = rawKey.base as? String else {
                    throw ConfigError("config '\(source)' has key \(rawKey.base) in \(field.isEmpty ? "its top level" : "'\(field)'"); keys must be names.")
                }
                guard key.count <= ConfigLimits.maxKeyLength else {
                    throw ConfigError("config '\(source)' \(ConfigLimits.keyTooLong(key)).")
                }
                let name = key.replacingOccurrences(of: "-", with: "_")
                guard result[name] == nil else {
                    throw ConfigError("field '\(named(name))' is given twice in \(source) (as snake_case and kebab-case).")
                }
                result[name] = try normalise(item, source: source, field: named(name), depth: depth + 1, values: &values)
            }
            return result
        case is NSNull:
            return value
        case let number as NSNumber:
            guard number.doubleValue.isFinite else {
                throw ConfigError("field '\(field)' in \(source): expected a finite number, got \(number).")
            }
            return value
        default:
            throw ConfigError("field '\(field)' in \(source) has a value of unsupported type \(type(of: value)).")
        }
    }

    // MARK: Decoding and errors

    /// The default config's fields, which most applications (every sweep point) start from.
    nonisolated(unsafe) private static let defaultFields = try? encode(RunConfig())

    private static func encode(_ config: RunConfig) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as! [String: Any]
    }

    private static func decode(_ fields: [String: Any]) throws -> RunConfig {
        try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: fields))
    }

    /// One sentence for a decoding failure. Foundation drops the coding path when a number does
    /// not fit the field's type (3.5 for an Int), so then the fields are tried one at a time.
    private static func describe(_ error: DecodingError, fields: [String: Any], baseFields: [String: Any],
                                 given: [String: Any], source: String) -> ConfigError {
        func accepts(_ key: String, _ value: Any) -> Bool { (try? decode(baseFields.merging([key: value]) { $1 })) != nil }
        let key = codingPath(of: error).first?.stringValue
            ?? fields.keys.sorted().first { !accepts($0, fields[$0]!) }
        guard let key, let value = given[key] else { return ConfigError("\(source) is not a valid run config: \(error).") }
        if case .dataCorrupted(let context) = error, let sentence = context.underlyingError as? StrategyError {
            return ConfigError("\(name(key, source: source)): \(sentence).")
        }
        if let range = RunConfig.ranges[key], let number = value as? NSNumber, !range.contains(number.doubleValue) {
            return ConfigError("\(name(key, source: source)) must be \(range.requirement), got \(number).")  // 1e300 for a Float
        }
        if let choices = RunConfig.choices[key] {
            return ConfigError("field '\(key)' in \(source): \(show(value)) is not one of \(choices.joined(separator: ", ")).")
        }
        // Ask the decoder itself which kind of value the field takes.
        let probes: [(Any, String)] = [
            (true, "true or false"), (0.5, "a number"), (-1, "an integer"), (1, "a non-negative integer"),
            ("x", "a string"), ([-1], "an integer or a list of integers"),
        ]
        let expected = probes.first { accepts(key, $0.0) }?.1 ?? "a value of another type"
        return ConfigError("field '\(key)' in \(source): expected \(expected), got \(show(value)).")
    }

    private static func codingPath(of error: DecodingError) -> [CodingKey] {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
             .dataCorrupted(let context):
            return context.codingPath
        @unknown default:
            return []
        }
    }

    /// A value as the user wrote it: strings quoted, booleans as true/false.
    /// `value` as an error sentence quotes it: its first `limit` characters, then "…" (a field
    /// given 100,000 numbers gets a line, not half a megabyte).
    static func show(_ value: Any, limit: Int = 120) -> String {
        var text = "", length = 0
        /// Appends `piece`, cut at the limit; false once the limit is reached.
        func write(_ piece: String) -> Bool {
            for character in piece {
                guard length < limit else { return false }
                text.append(character)
                length += 1
            }
            return true
        }
        func visit(_ value: Any) -> Bool {
            switch value {
            case let string as String: return write("'") && write(string) && write("'")
            case let list as [Any]:
                guard write("[") else { return false }
                for (i, item) in list.enumerated() {
                    guard i == 0 || write(", "), visit(item) else { return false }
                }
                return write("]")
            case is [String: Any]: return write("a table")
            case is NSNull: return write("null")
            case let number as NSNumber where String(cString: number.objCType) == "c": return write(number.boolValue ? "true" : "false")
            case let number as NSNumber: return write(number.stringValue)
            default: return write("\(value)")
            }
        }
        return visit(value) ? text : text + "…"
    }

    private static func unknownField(_ key: String, source: String, known names: [String]) -> ConfigError {
        ConfigError("unknown field '\(key)' in \(source)\(didYouMean(key, among: names)); known fields: \(names.joined(separator: ", ")).")
    }

    /// " (did you mean 'batch_size'?)" when one of `names` is close to `key` (edit distance at most
    /// a third of its length), else "": the hint of every unknown-name error of config and sweep files.
    package static func didYouMean(_ key: String, among names: [String]) -> String {
        let limit = max(1, key.count / 3)
        // The distance is at least the difference of the lengths: a 500,000-character key is
        // compared with nothing.
        let candidates = names.filter { abs($0.count - key.count) <= limit }.map { (name: $0, distance: editDistance(key, $0)) }
        guard let closest = candidates.min(by: { $0.distance < $1.distance }), closest.distance <= limit else { return "" }
        return " (did you mean '\(closest.name)'?)"
    }

    /// Levenshtein distance, for "did you mean".
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous + (a[i - 1] == b[j - 1] ? 0 : 1)
                previous = row[j]
                row[j] = min(substitution, row[j] + 1, row[j - 1] + 1)
            }
        }
        return row[b.count]
    }
}
