/// An upper bound on how deep a TOML text nests, found by one pass over its bytes before toml++
/// sees it: toml++ limits nested arrays and inline tables (256) but not dotted keys, and it
/// recurses per level, so `a.a.a…a = 1` a million segments long overflows its stack.
/// Depth counts table headers' and keys' segments (`[a.b]` then `c.d = 1` is 4) and every open
/// array or inline table. Strings and comments are skipped; malformed text is left to toml++.
enum TOMLNesting {
    static func check(_ text: String, path: String) throws {
        var scan = Scan()
        var bytes = text.utf8[...]
        while let c = bytes.popFirst() {
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): skipString(opening: c, in: &bytes)
            case UInt8(ascii: "#"): while let next = bytes.first, next != UInt8(ascii: "\n") { bytes.removeFirst() }
            case UInt8(ascii: "\n"): scan.endLine()
            case UInt8(ascii: "["): if scan.startsHeader { scan.header(segments: headerSegments(&bytes)) } else { scan.open(array: true) }
            case UInt8(ascii: "{"): scan.open(array: false)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): scan.close()
            case UInt8(ascii: "."): if scan.key > 0 { scan.key += 1 }
            case UInt8(ascii: "="): scan.assign()
            case UInt8(ascii: ","): scan.comma()
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): break
            default: scan.lineHasContent = true
            }
            guard scan.deepest <= ConfigLimits.maxDepth else { throw ConfigLoader.tooDeep(path) }
        }
    }

    /// Where the pass is: the table keys go into, the key being read, open arrays and tables.
    private struct Scan {
        var headerDepth = 0
        var base = 0
        var key = 1
        var valueDepth = 0
        var open: [(array: Bool, base: Int, valueDepth: Int)] = []
        var lineHasContent = false
        var deepest: Int { max(base + key, valueDepth) }

        var startsHeader: Bool { open.isEmpty && key == 1 && !lineHasContent }

        mutating func endLine() {
            guard open.isEmpty else { return }  // arrays may span lines
            base = headerDepth
            key = 1
            lineHasContent = false
        }

        mutating func header(segments: Int) {
            headerDepth = segments
            base = segments
            lineHasContent = true
        }

        mutating func assign() {
            guard key > 0 else { return }
            valueDepth = base + key
            key = 0
            lineHasContent = true
        }

        mutating func open(array: Bool) {
            lineHasContent = true
            open.append((array, base, valueDepth))
            if array {
                valueDepth += 1
            } else {
                base = valueDepth
                key = 1
            }
        }

        mutating func close() {
            guard let last = open.popLast() else { return }
            base = last.base
            valueDepth = last.valueDepth
            key = 0
        }

        mutating func comma() {
            if open.last?.array == false { key = 1 }
        }
    }

    /// Reads a `[a.b]` or `[[a.b]]` header up to its closing bracket; its depth in segments.
    private static func headerSegments(_ bytes: inout Substring.UTF8View) -> Int {
        var segments = 1
        if bytes.first == UInt8(ascii: "[") { bytes.removeFirst(); segments += 1 }
        while let c = bytes.first, c != UInt8(ascii: "]"), c != UInt8(ascii: "\n") {
            bytes.removeFirst()
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") { skipString(opening: c, in: &bytes) }
            if c == UInt8(ascii: ".") { segments += 1 }
            if segments > ConfigLimits.maxDepth { break }
        }
        return segments
    }

    /// Skips a basic ("…", with escapes), literal ('…') or multi-line ("""…""", '''…''') string.
    private static func skipString(opening quote: UInt8, in bytes: inout Substring.UTF8View) {
        let triple = bytes.starts(with: [quote, quote])
        if triple { bytes.removeFirst(2) }
        while let c = bytes.popFirst() {
            if c == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") { _ = bytes.popFirst(); continue }
            if c == UInt8(ascii: "\n") && !triple { return }
            guard c == quote else { continue }
            if !triple { return }
            if bytes.starts(with: [quote, quote]) { bytes.removeFirst(2); return }
        }
    }
}
