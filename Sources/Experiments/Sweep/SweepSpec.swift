import Config
import Foundation
import Training

/// A sweep file: a base run config and the axes to vary.
///
///     # top-level run fields belong to the base, like those of [base]
///     epochs = 2
///     seeds = [1, 2, 3]           # every point below that sets no seed, once per seed
///     [base]
///     model = "cnn"
///     [axes]                      # the grid: every combination
///     algorithm = ["local"]
///     workers = [1, 4, 16]
///     local_steps = [1, 4, 16]
///     [[include]]                 # extra points; a list in one expands to a small grid of its own
///                                 # (with includes and no axes, only the includes run)
///     algorithm = "post-local"
///     switch_epoch = [1, 2]
///
/// Any `RunConfig` field may be an axis. TOML, YAML and JSON files hold the same tables.
public struct SweepSpec: Sendable {
    /// Where it came from, for messages.
    public var source: String
    public var base: [String: SweepValue]
    /// The grid's axes, in `RunConfig` field order.
    public var axes: [(field: String, values: [SweepValue])]
    /// Extra grids, each over its own fields.
    public var includes: [[(field: String, values: [SweepValue])]]
    /// If set, every point that sets no seed itself is run once per seed.
    public var seeds: [SweepValue]?

    public static let sectionKeys = ["base", "axes", "include", "seeds", "name", "description"]

    public init(source: String, base: [String: SweepValue] = [:], axes: [(field: String, values: [SweepValue])] = [],
                includes: [[(field: String, values: [SweepValue])]] = [], seeds: [SweepValue]? = nil) {
        self.source = source
        self.base = base
        self.axes = axes
        self.includes = includes
        self.seeds = seeds
    }

    /// Reads a sweep file (TOML, YAML or JSON).
    public static func load(_ path: String) throws -> SweepSpec {
        try SweepSpec(table: ConfigLoader.parseFile(path), source: path)
    }

    /// Builds a spec from a parsed file's top level; every error names `source` and the field.
    public init(table: [String: Any], source: String) throws {
        self.source = source
        base = [:]
        axes = []
        includes = []
        for key in table.keys.sorted() where !SweepSpec.sectionKeys.contains(key) {
            guard RunConfig.fieldNames.contains(key) else {
                throw ConfigError("unknown key '\(key)' in sweep file \(source); expected a run field, or one of \(SweepSpec.sectionKeys.joined(separator: ", ")).")
            }
            base[key] = try SweepValue(table[key]!, field: key, source: source)
        }
        if let section = table["base"] {
            guard let fields = section as? [String: Any] else { throw ConfigError("'base' in \(source) must be a table of run fields.") }
            for (key, value) in fields {
                try SweepSpec.checkField(key, in: "base", source: source)
                guard base[key] == nil else {
                    throw ConfigError("field '\(key)' is given both at the top level and in [base] of \(source).")
                }
                base[key] = try SweepValue(value, field: key, source: source)
            }
        }
        if let section = table["axes"] {
            guard let fields = section as? [String: Any] else { throw ConfigError("'axes' in \(source) must be a table: field = [values].") }
            axes = try SweepSpec.grid(fields, section: "axes", lists: true, source: source)
        }
        if let section = table["include"] {
            let entries = (section as? [Any]) ?? [section]
            for (i, entry) in entries.enumerated() {
                guard let fields = entry as? [String: Any] else {
                    throw ConfigError("include entry \(i + 1) in \(source) must be a table of run fields.")
                }
                includes.append(try SweepSpec.grid(fields, section: "include entry \(i + 1)", lists: false, source: source))
            }
        }
        if let list = table["seeds"] {
            guard let values = list as? [Any], !values.isEmpty else { throw ConfigError("'seeds' in \(source) must be a non-empty list of integers.") }
            seeds = try values.map { try SweepValue($0, field: "seed", source: source) }
        }
    }

    static func checkField(_ key: String, in section: String, source: String) throws {
        guard RunConfig.fieldNames.contains(key) else {
            let word = section == "axes" ? "axis field" : "field"
            let hint = ConfigLoader.didYouMean(key, among: RunConfig.fieldNames)
            throw ConfigError("unknown \(word) '\(key)' in \(section) of sweep file \(source)\(hint); known fields: \(RunConfig.fieldNames.joined(separator: ", ")).")
        }
    }

    /// Fields to value lists, in `RunConfig` order. In `axes` every value must be a list; in an
    /// include a single value is a one-point axis. A list-valued field (`group_size`) takes a
    /// list of lists, or a list of integers meaning one-element lists.
    static func grid(_ fields: [String: Any], section: String, lists: Bool, source: String) throws -> [(field: String, values: [SweepValue])] {
        var result: [(field: String, values: [SweepValue])] = []
        for key in RunConfig.fieldNames where fields[key] != nil {
            let raw = fields[key]!
            let values: [Any]
            let flatIntegerList = RunConfig.integerListFields.contains(key) && (raw as? [Any])?.allSatisfy({ !($0 is [Any]) }) == true
            if let list = raw as? [Any], lists || !flatIntegerList {
                values = list
            } else if lists {
                throw ConfigError("axis '\(key)' in \(source) must be a list of values, got a single value; put it in [base] if it is the same for every run.")
            } else {
                values = [raw]
            }
            guard !values.isEmpty else { throw ConfigError("axis '\(key)' in \(section) of \(source) has no values.") }
            result.append((key, try values.map { try SweepValue($0, field: key, source: source) }))
        }
        for key in fields.keys.sorted() where !RunConfig.fieldNames.contains(key) {
            try checkField(key, in: section, source: source)
        }
        return result
    }
}
