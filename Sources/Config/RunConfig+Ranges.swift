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

    func contains(_ x: Double) -> Bool {
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
    public static let maxEpochs = CheckpointPeriod.maxEpochs
    /// Longest averaging period in steps (H, or H·H_b… for hierarchical levels).
    public static let maxPeriod = 1_000_000_000

    /// Every numeric field's range: far beyond any sensible run
    /// on one machine, and tight enough that no product of them overflows and no allocation they
    /// size (batches, datasets, threads, replicas) can abort. Cross-field limits (warm-up within
    /// the epochs, group sizes dividing K) stay in `validate()`.
    public static let ranges: [String: FieldRange] = [
        "augment_crop": FieldRange(lower: 0, upper: 64),
        "synthetic_train": FieldRange(lower: 1, upper: 100_000),
        "synthetic_test": FieldRange(lower: 1, upper: 100_000),
        "epochs": FieldRange(lower: 1, upper: Double(maxEpochs)),
        "batch_size": FieldRange(lower: 1, upper: 4096),
        "lr": FieldRange(lower: 0, upper: Double(Float(1e30)), lowerOpen: true),  // lr is a Float; divergence is caught when it happens
        "decay_epochs": FieldRange(lower: 1, upper: Double(maxEpochs), maxItems: 100),
        "decay_factor": FieldRange(lower: 0, upper: 1, lowerOpen: true),
        "warmup_epochs": FieldRange(lower: 0, upper: Double(maxEpochs)),
        "momentum": FieldRange(lower: 0, upper: 1, upperOpen: true),
        "weight_decay": FieldRange(lower: 0, upper: 1),
        "workers": FieldRange(lower: 1, upper: 1024),
        "local_steps": FieldRange(lower: 1, upper: 1_000_000),
        "switch_epoch": FieldRange(lower: 0, upper: Double(maxEpochs)),
        "switch_step": FieldRange(lower: 0, upper: Double(maxPeriod)),
        "group_size": FieldRange(lower: 1, upper: 1024, maxItems: 8),
        "global_every": FieldRange(lower: 1, upper: 1_000_000, maxItems: 8),
        "slowmo_lr": FieldRange(lower: 0, upper: 1000, lowerOpen: true),
        "slowmo_momentum": FieldRange(lower: 0, upper: 1, upperOpen: true),
        "inject_latency": FieldRange(lower: 0, upper: 10),
        "collective_timeout": FieldRange(lower: 0, upper: 86_400),
        "nodes": FieldRange(lower: 1, upper: 1024),
        "threads_per_node": FieldRange(lower: 1, upper: 256),
        "average_every": FieldRange(lower: 1, upper: 1_000_000),
        "average_seconds": FieldRange(lower: 0, upper: 3600, lowerOpen: true),
        "async_delay": FieldRange(lower: 0, upper: 1_000_000),
        "threads": FieldRange(lower: 1, upper: 256),
        "eval_batch_size": FieldRange(lower: 1, upper: 4096),
    ]

    /// Longest text of string fields: paths, and the `--network` and `--checkpoint-every` specs.
    static let maxTextLength: [String: Int] = ["data_dir": 4096, "init": 4096, "network": 256, "checkpoint_every": 32]

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
            do { _ = try NetworkModel(parsing: text) } catch { return "\(name): \(error)" }
        default: break
        }
        return nil
    }
}
