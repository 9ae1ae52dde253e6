import Config
import Foundation
import Training

/// One run of a sweep: its directory name and its complete config.
public struct SweepPoint: Sendable {
    /// `algorithm=local,workers=8,local_steps=4,seed=1`: the varied fields, in `RunConfig` order.
    public var name: String
    /// The varied fields and their values, as in the name.
    public var fields: [(field: String, value: String)]
    public var config: RunConfig
    /// The name this run had before fields its algorithm does not read were left out of names
    /// (`algorithm=minibatch,…,slowmo_momentum=0.5`), when it differs: a sweep directory written
    /// then is renamed on resume instead of being run again.
    public var formerName: String?
}

extension SweepSpec {
    /// Every field some point varies (axes, includes, seeds), in `RunConfig` order.
    public var variedFields: [String] {
        var named = Set(axes.map(\.field))
        for include in includes { named.formUnion(include.map(\.field)) }
        if seeds != nil { named.insert("seed") }
        return RunConfig.fieldNames.filter { named.contains($0) }
    }

    /// Whether the file sets `field` anywhere.
    public func sets(_ field: String) -> Bool {
        base[field] != nil || variedFields.contains(field)
    }

    /// The runs of the sweep: the grid, then each include, each once per seed unless it sets its
    /// own (seeds outermost,
    /// so a partial sweep has whole seeds). Configs are checked for names and types here; range
    /// checks (an impossible group size, say) are left to the run, so that one bad point fails
    /// alone. Points with the same config are run once. `threads` is the default for runs when
    /// the file does not set it.
    public func expand(threads: Int? = nil) throws -> [SweepPoint] {
        let runs = combinationCount
        guard runs <= Double(SweepSpec.maxRuns) else {
            // Doubles count exactly up to 2^53; beyond, the count is shown as what it is, a rounding.
            let shown = runs < 9_007_199_254_740_992 ? String(Int(runs)) : "about " + String(format: "%.3g", runs)
            throw ConfigError("sweep \(source) expands to \(shown) runs "
                              + "(axes multiplied, includes, seeds); at most \(SweepSpec.maxRuns) are allowed: split it into several sweeps.")
        }
        // With no axes the grid is the base run alone, unless includes name the points to run.
        var combinations: [[(String, SweepValue)]] = axes.isEmpty && !includes.isEmpty ? [] : SweepSpec.product(axes)
        for include in includes { combinations += SweepSpec.product(include) }
        if let seeds {
            // A point that sets its own seed keeps it.
            combinations = seeds.enumerated().flatMap { i, seed in
                combinations.compactMap { c in c.contains { $0.0 == "seed" } ? (i == 0 ? c : nil) : c + [("seed", seed)] }
            }
        }
        let varied = variedFields
        var points: [SweepPoint] = []
        var seen = Set<Data>(), names: [String: Int] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for (index, combination) in combinations.enumerated() {
            var fields = base.mapValues(\.any)
            for (key, value) in combination { fields[key] = value.any }
            if let threads, !sets("threads") { fields["threads"] = threads }
            let config = try ConfigLoader.apply(fields, to: RunConfig(), source: "run \(index + 1) of sweep \(source)")
            let key = try encoder.encode(config)
            guard seen.insert(key).inserted else { continue }
            let resolved = try JSONSerialization.jsonObject(with: key) as! [String: Any]
            let every = varied.compactMap { field -> (field: String, value: String)? in
                guard let value = resolved[field], !(value is NSNull), (value as? [Any])?.isEmpty != true,
                      let shown = try? SweepValue(value, field: field, source: source) else { return nil }
                return (field, shown.description)
            }
            // A field this run's algorithm does not read (at its default) says nothing about the run.
            let named = every.filter { config.reads($0.field) }
            let name = SweepSpec.directoryName(named), former = SweepSpec.directoryName(every)
            if let other = names[name] {
                throw ConfigError("runs \(other + 1) and \(index + 1) of sweep \(source) differ only in fields that are not varied, so both would be named '\(name)'.")
            }
            names[name] = index
            points.append(SweepPoint(name: name, fields: named, config: config, formerName: former == name ? nil : former))
        }
        return points
    }

    /// Most runs one sweep may expand to: each takes about a millisecond to check, and a run of
    /// its own to train; a file of a few lines could otherwise name 10^20 of them.
    public static let maxRuns = 10_000

    /// How many runs `expand` makes before identical configs are merged, worked out without
    /// making them (a Double: a hostile file's product overflows any integer).
    var combinationCount: Double {
        // A point that sets its own seed runs once; the others once per seed.
        let perSeed = Double(seeds?.count ?? 1)
        func count(_ axes: [(field: String, values: [SweepValue])]) -> Double {
            axes.reduce(axes.contains { $0.field == "seed" } ? 1.0 : perSeed) { $0 * Double($1.values.count) }
        }
        return includes.reduce(axes.isEmpty && !includes.isEmpty ? 0 : count(axes)) { $0 + count($1) }
    }

    /// All combinations of the axes, the last axis varying fastest.
    static func product(_ axes: [(field: String, values: [SweepValue])]) -> [[(String, SweepValue)]] {
        axes.reduce([[]]) { partial, axis in partial.flatMap { prefix in axis.values.map { prefix + [(axis.field, $0)] } } }
    }

    /// `field=value` pairs joined by commas, safe as one path component (no `/`, at most 200 bytes).
    static func directoryName(_ fields: [(field: String, value: String)]) -> String {
        var name = fields.map { "\($0.field)=\($0.value)" }.joined(separator: ",")
        if name.isEmpty { name = "run" }
        name = String(name.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        if name.hasPrefix(".") { name = "_" + name.dropFirst() }
        if name.utf8.count > 200 {
            var hash: UInt64 = 14_695_981_039_346_656_037  // FNV-1a: stable across runs and machines
            for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
            name = String(decoding: name.utf8.prefix(180), as: UTF8.self) + "," + String(hash, radix: 16)
        }
        return name
    }
}
