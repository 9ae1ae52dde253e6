import Foundation

/// Reads a TOML 1.0 document (run and sweep files) into plain values: `[String: Any]` tables,
/// `[Any]` arrays, `String`, `Int`, `Double`, `Bool`. A date or time is refused (no field takes
/// one). Written for config files instead of toml++ 3 (through TOMLKit), on which `fuzz-toml`
/// found traps: it asserted, or where assertions are off assumed, on `[#]`, `x = [}` and line
/// separators in arrays, and it leaked every table and error it made. This reader only throws
/// `ConfigError` sentences naming the file and line, and bounds nesting by
/// `ConfigLimits.maxDepth` while it reads, so no input can exhaust the stack.
struct TOMLReader {
    /// A table being built: its entries are plain values, `[Any]`, `Table` or `TableList`.
    final class Table {
        var entries: [String: Any] = [:]
        /// Made by a `[header]` or by dotted keys: another header may not make it again.
        var defined = false
        /// An inline table: nothing may be added to it later.
        var sealed = false
    }

    /// An array of tables (`[[name]]`).
    final class TableList {
        var tables: [Table] = []
    }

    let bytes: [UInt8]
    let path: String
    var i = 0
    var line = 1
    let root = Table()

    /// The document's top-level table, or a `ConfigError` naming `path` and the line.
    static func read(_ text: String, path: String) throws -> [String: Any] {
        var reader = TOMLReader(bytes: Array(text.utf8), path: path)
        if reader.bytes.starts(with: [0xef, 0xbb, 0xbf]) { reader.i = 3 }  // a UTF-8 byte order mark
        try reader.document()
        return plain(reader.root) as? [String: Any] ?? [:]
    }

    static func plain(_ value: Any) -> Any {
        // Arrays before the class casts: casting a Swift array to a class bridges it to an
        // NSArray copy first, at every level (as `ConfigLoader.normalise`).
        switch value {
        case let array as [Any]: return array.map(plain)
        case let table as Table: return table.entries.mapValues(plain)
        case let list as TableList: return list.tables.map(plain)
        default: return value
        }
    }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func fail(_ problem: String) -> ConfigError {
        ConfigError("config file '\(path)' is not valid TOML at line \(line): \(problem).")
    }

    /// The character at the reader, quoted for a message.
    var found: String {
        guard let c = peek else { return "the end of the file" }
        if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") { return "the end of the line" }
        if c < 0x20 || c == 0x7f { return "the control character U+" + String(format: "%04X", c) }
        let length = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4
        return "'" + String(decoding: bytes[i..<min(i + length, bytes.count)], as: UTF8.self) + "'"
    }

    mutating func document() throws {
        var current = root
        var depth = 1
        while let c = peek {
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"): i += 1
            case UInt8(ascii: "#"): try comment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try newline()
            case UInt8(ascii: "["):
                (current, depth) = try header()
                try endOfLine()
            default:
                try keyValue(into: current, depth: depth)
                try endOfLine()
            }
        }
    }

    mutating func skipBlanks() {
        while let c = peek, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 }
    }

    /// A line feed, or a carriage return and line feed.
    mutating func newline() throws {
        if peek == UInt8(ascii: "\r") {
            i += 1
            guard peek == UInt8(ascii: "\n") else { throw fail("a carriage return must be followed by a line feed") }
        }
        i += 1
        line += 1
    }

    /// `# ...` up to the end of the line; TOML allows no control character but tab in it.
    mutating func comment() throws {
        while let c = peek, c != UInt8(ascii: "\n"), c != UInt8(ascii: "\r") {
            if (c < 0x20 && c != UInt8(ascii: "\t")) || c == 0x7f { throw fail("a comment holds a control character") }
            i += 1
        }
    }

    /// What may follow a key/value pair or a header: blanks, a comment, the end of the line.
    mutating func endOfLine() throws {
        skipBlanks()
        if peek == UInt8(ascii: "#") { try comment() }
        guard let c = peek else { return }
        guard c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") else { throw fail("expected the end of the line, found \(found)") }
        try newline()
    }

    /// `[a.b]` or `[[a.b]]`: the table that the following pairs go into, and its depth.
    mutating func header() throws -> (Table, Int) {
        i += 1
        let isList = peek == UInt8(ascii: "[")
        if isList { i += 1 }
        skipBlanks()
        let keys = try keyPath(depth: 1)
        guard keys.count + 1 <= ConfigLimits.maxDepth else { throw ConfigLoader.tooDeep(path) }
        guard peek == UInt8(ascii: "]"), !isList || (i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "]")) else {
            throw fail("expected '\(isList ? "]]" : "]")' to close the table header, found \(found)")
        }
        i += isList ? 2 : 1
        var table = root
        for (n, key) in keys.dropLast().enumerated() { table = try descend(table, key, name: keys[...n], throughLists: true) }
        let name = keys.joined(separator: ".")
        let last = keys[keys.count - 1]
        if isList {
            let list: TableList
            switch table.entries[last] {
            case nil: list = TableList(); table.entries[last] = list
            case let existing as TableList: list = existing
            default: throw fail("[[\(name)]] cannot add to '\(name)', which is already a value or table")
            }
            let new = Table()
            new.defined = true
            list.tables.append(new)
            return (new, keys.count + 1)
        }
        switch table.entries[last] {
        case nil:
            let new = Table()
            new.defined = true
            table.entries[last] = new
            return (new, keys.count + 1)
        case let existing as Table where !existing.defined && !existing.sealed:
            existing.defined = true
            return (existing, keys.count + 1)
        default:
            throw fail("table '\(name)' is defined twice")
        }
    }

    /// The table `key` of `table`, made if absent; through an array of tables to its last one
    /// for headers. Anything else there is an error naming the dotted `name`.
    func descend(_ table: Table, _ key: String, name: ArraySlice<String>, throughLists: Bool) throws -> Table {
        switch table.entries[key] {
        case nil:
            let new = Table()
            table.entries[key] = new
            return new
        case let existing as Table where !existing.sealed:
            return existing
        case let list as TableList where throughLists:
            return list.tables[list.tables.count - 1]
        default:
            throw fail("'\(name.joined(separator: "."))' is already a value, so no key can go into it")
        }
    }

    /// `a.b.c = value` into `table` (at nesting `depth`), tables made by dotted keys included.
    mutating func keyValue(into table: Table, depth: Int) throws {
        let keys = try keyPath(depth: depth)
        guard peek == UInt8(ascii: "=") else { throw fail("expected '=' after the key '\(keys.joined(separator: "."))', found \(found)") }
        i += 1
        skipBlanks()
        let value = try self.value(depth: depth + keys.count, field: keys.joined(separator: "."))
        var target = table
        for (n, key) in keys.dropLast().enumerated() {
            target = try descend(target, key, name: keys[...n], throughLists: false)
            target.defined = true
        }
        let last = keys[keys.count - 1]
        guard target.entries[last] == nil else { throw fail("the key '\(keys.joined(separator: "."))' is given twice") }
        target.entries[last] = value
    }

    /// `a . "b" . 'c'` and the blanks after it, in a table at level `depth`: the tables the keys
    /// but the last name are at most `ConfigLimits.maxDepth` levels deep (what the last names is
    /// checked where it is known to be a table).
    mutating func keyPath(depth: Int) throws -> [String] {
        var keys: [String] = []
        while true {
            guard depth + keys.count <= ConfigLimits.maxDepth else { throw ConfigLoader.tooDeep(path) }
            keys.append(try key())
            skipBlanks()
            guard peek == UInt8(ascii: ".") else { return keys }
            i += 1
            skipBlanks()
        }
    }

    /// A bare key (letters, digits, '_', '-') or a quoted one.
    mutating func key() throws -> String {
        let key: String
        switch peek {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            if bytes[i...].starts(with: [peek!, peek!, peek!]) { throw fail("a key cannot be a multi-line string") }
            key = peek == UInt8(ascii: "\"") ? try basicString() : try literalString()
        default:
            let start = i
            while let c = peek, Self.isBareKey(c) { i += 1 }
            guard i > start else { throw fail("expected a key (a letter, digit, '_', '-' or a quoted name), found \(found)") }
            key = String(decoding: bytes[start..<i], as: UTF8.self)
        }
        guard key.count <= ConfigLimits.maxKeyLength else {
            throw ConfigError("config file '\(path)' \(ConfigLimits.keyTooLong(key)) (line \(line)).")
        }
        return key
    }

    static func isBareKey(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }
}
