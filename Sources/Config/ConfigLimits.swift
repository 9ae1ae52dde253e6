/// Bounds on what a config or sweep file may hold, checked while it is read so that no parser
/// sees input that could exhaust the stack, the memory or the time (a nesting bomb, a YAML alias
/// "billion laughs"). Real configs are a flat table, sweep files three or four levels deep.
public enum ConfigLimits {
    /// Largest config or sweep file, in bytes (1 MiB).
    public static let maxBytes = 1 << 20
    /// Deepest nesting of lists and tables (the top-level table is level 1; scalars add no level).
    public static let maxDepth = 32
    /// Most values (scalars, lists, tables; not keys) a file may expand to, counting the top-level
    /// table and every use of a YAML alias; the same count in TOML, YAML and JSON.
    public static let maxValues = 100_000
    /// Longest key, in characters: field names are a few dozen, and every error that names a key
    /// quotes it whole.
    public static let maxKeyLength = 256

    /// The sentence for a key longer than `maxKeyLength`, quoting its start.
    static func keyTooLong(_ key: String) -> String {
        "has a key of \(key.count) characters ('\(key.prefix(40))…'), more than the \(maxKeyLength) a name may have"
    }
}
