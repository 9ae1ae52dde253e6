import Comm
import Foundation
import RunFiles

/// The values one numeric field may take, with how `--help` and errors say it.
public struct FieldRange: Sendable {
    public let lower: Double
    public let upper: Double
    public var lowerOpen = false
    public var upperOpen = false
    /// For list fields (`decay_epochs`): the most items.
    public var maxItems: Int? = nil

    public func contains(_ x: Double) -> Bool {
        (lowerOpen ? x > lower : x >= lower) && (upperOpen ? x < upper : x <= upper)
    }

    /// "1 to 10000", "greater than 0, at most 1000000", "0 to under 1".
    public var text: String {
        let low = Self.show(lower), high = Self.show(upper)
        switch (lowerOpen, upperOpen) {
        case (false, false): return "\(low) to \(high)"
        case (true, false): return "greater than \(low), at most \(high)"
        case (false, true): return "at least \(low), under \(high)"
        case (true, true): return "between \(low) and \(high), exclusive"
        }
    }

    /// The same for an error: "between 1 and 10000", "greater than 0 and at most 1000000".
    public var requirement: String {
        let low = Self.show(lower), high = Self.show(upper)
        switch (lowerOpen, upperOpen) {
        case (false, false): return "between \(low) and \(high)"
        case (true, false): return "greater than \(low) and at most \(high)"
        case (false, true): return "at least \(low) and under \(high)"
        case (true, true): return "between \(low) and \(high), exclusive"
        }
    }

    static func show(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(format: "%g", x) }
}

extension RunConfig {
    /// Every numeric field's range, by flat name (from `fields`).
    public static let ranges: [String: FieldRange] = Dictionary(uniqueKeysWithValues: fields.compactMap { f in f.range.map { (f.name, $0) } })

    /// Longest text of string fields: paths, and the `--network` and `--checkpoint-every` specs.
    static let maxTextLength: [String: Int] = Dictionary(uniqueKeysWithValues: fields.compactMap { f in f.maxLength.map { (f.name, $0) } })

    /// The range of `field` for help texts, e.g. "1 to 10000".
    public static func range(_ field: String) -> String { ranges[field]!.text }

    /// The first of `fields` (all when nil) whose value is out of its range or unreadable, as a
    /// sentence starting with `name(field)` ("--epochs" or "field 'epochs' in run.toml").
    public func rangeProblem(fields: Set<String>? = nil, name: (String) -> String) throws -> String? {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let values = try JSONSerialization.jsonObject(with: encoder.encode(self)) as? [String: Any] ?? [:]
        for field in RunConfig.fieldNames where fields?.contains(field) ?? true {
            if let problem = problem(field, values[field], name: name(field)) { return problem }
        }
        return nil
    }

    private func problem(_ field: String, _ value: Any?, name: String) -> String? {
        if let range = RunConfig.ranges[field], let text = value as? String, ["inf", "-inf", "nan"].contains(text) {
            // a non-finite number (other words, such as `auto`, are the field's own settings)
            return "\(name) must be \(range.requirement), got \(text)"
        }
        if let text = value as? String { return textProblem(field, text, name: name) }
        guard let range = RunConfig.ranges[field], let value, !(value is NSNull) else { return nil }
        let items = (value as? [Any]) ?? [value]
        if let most = range.maxItems, items.count > most {
            return "\(name) has \(items.count) values; it takes at most \(most)"
        }
        for item in items {
            guard let number = item as? NSNumber, !range.contains(number.doubleValue) else { continue }
            let each = range.maxItems == nil ? "" : "each value of "
            return "\(each)\(name) must be \(range.requirement), got \(number)"
        }
        return nil
    }

    private func textProblem(_ field: String, _ text: String, name: String) -> String? {
        if let most = RunConfig.maxTextLength[field], text.utf8.count > most {
            return "\(name) is \(text.utf8.count) bytes long; it takes at most \(most)"
        }
        switch field {
        case "checkpoint_every" where !text.trimmingCharacters(in: .whitespaces).isEmpty && CheckpointPeriod(parsing: text) == nil:
            return "\(name) takes \(CheckpointPeriod.help), got '\(text)'"
        case "network":
            do { _ = try NetworkModel(parsing: text) } catch {
                // The caller ends the sentence.
                let sentence = "\(error)"
                return "\(name): " + (sentence.hasSuffix(".") ? String(sentence.dropLast()) : sentence)
            }
        default: break
        }
        return nil
    }
}
