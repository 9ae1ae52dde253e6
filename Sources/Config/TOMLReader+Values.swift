import Foundation

/// Values: strings (basic, literal, multi-line), integers (decimal, hex, octal, binary), floats,
/// booleans, arrays and inline tables. Dates and times are refused with the field's name.
extension TOMLReader {
    /// The value at nesting level `depth` (a top-level key's value is at level 2; lists and
    /// tables count, scalars do not).
    mutating func value(depth: Int, field: String) throws -> Any {
        switch peek {
        case UInt8(ascii: "\""): return try basicString()
        case UInt8(ascii: "'"): return try literalString()
        case UInt8(ascii: "["): return try array(depth: depth, field: field)
        case UInt8(ascii: "{"): return try inlineTable(depth: depth)
        default: return try scalar(field: field)
        }
    }

    /// `[a, b, ...]`, over lines, with comments and a trailing comma allowed.
    mutating func array(depth: Int, field: String) throws -> [Any] {
        guard depth <= ConfigLimits.maxDepth else { throw ConfigLoader.tooDeep(path) }
        i += 1
        var items: [Any] = []
        while true {
            try skipSpace()
            if peek == UInt8(ascii: "]") { i += 1; return items }
            items.append(try value(depth: depth + 1, field: field))
            try skipSpace()
            switch peek {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"): i += 1; return items
            default: throw fail("expected ',' or ']' in the array '\(field)', found \(found)")
            }
        }
    }

    /// Blanks, line breaks and comments, as arrays allow between their values.
    mutating func skipSpace() throws {
        while let c = peek {
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"): i += 1
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try newline()
            case UInt8(ascii: "#"): try comment()
            default: return
            }
        }
    }

    /// `{ a = 1, b.c = 2 }` on one line; nothing may be added to it later.
    mutating func inlineTable(depth: Int) throws -> Table {
        guard depth <= ConfigLimits.maxDepth else { throw ConfigLoader.tooDeep(path) }
        i += 1
        let table = Table()
        skipBlanks()
        if peek == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                try keyValue(into: table, depth: depth)
                skipBlanks()
                if peek == UInt8(ascii: "}") { i += 1; break }
                guard peek == UInt8(ascii: ",") else { throw fail("expected ',' or '}' in an inline table, found \(found)") }
                i += 1
                skipBlanks()
            }
        }
        table.sealed = true
        return table
    }

    /// A boolean, number, date or time: the run of characters these are written with.
    mutating func scalar(field: String) throws -> Any {
        let start = i
        while let c = peek, Self.isBareKey(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") { i += 1 }
        let token = String(decoding: bytes[start..<i], as: UTF8.self)
        guard !token.isEmpty else { throw fail("expected a value for '\(field)', found \(found)") }
        switch token {
        case "true": return true
        case "false": return false
        case "inf", "+inf": return Double.infinity
        case "-inf": return -Double.infinity
        case "nan", "+nan", "-nan": return Double.nan
        default: break
        }
        let digits = Array(token.utf8)
        let isDigit = { (k: Int) in k < digits.count && digits[k] >= UInt8(ascii: "0") && digits[k] <= UInt8(ascii: "9") }
        if (0..<4).allSatisfy(isDigit) && digits.count > 4 && digits[4] == UInt8(ascii: "-")
            || (0..<2).allSatisfy(isDigit) && digits.count > 2 && digits[2] == UInt8(ascii: ":") {
            throw ConfigError("field '\(field)' in \(path) is a TOML date or time; no field takes one.")
        }
        guard let number = Self.number(token) else {
            throw fail("'\(token)' for '\(field)' is no TOML value (a string, number, boolean, array or table)")
        }
        return number
    }

    /// An integer or float as TOML writes them, or nil (also for an integer beyond 64 bits).
    static func number(_ token: String) -> Any? {
        var text = Substring(token)
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
            let body = text.dropFirst(2)
            guard underscoresBetweenDigits(body, radix: radix) else { return nil }
            return Int(body.replacingOccurrences(of: "_", with: ""), radix: radix)
        }
        let sign = text.first == "+" || text.first == "-" ? String(text.removeFirst()) : ""
        guard underscoresBetweenDigits(text, radix: 10) else { return nil }
        let plain = text.replacingOccurrences(of: "_", with: "")
        let integerPart = plain.prefix { $0.isASCII && $0.isNumber }
        guard !integerPart.isEmpty, integerPart == "0" || !integerPart.hasPrefix("0") else { return nil }
        var rest = plain.dropFirst(integerPart.count)
        if rest.isEmpty { return Int(sign + plain) }
        if rest.first == "." {
            rest.removeFirst()
            let fraction = rest.prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty else { return nil }
            rest = rest.dropFirst(fraction.count)
        }
        if rest.first == "e" || rest.first == "E" {
            rest.removeFirst()
            if rest.first == "+" || rest.first == "-" { rest.removeFirst() }
            let exponent = rest.prefix { $0.isASCII && $0.isNumber }
            guard !exponent.isEmpty else { return nil }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty ? Double(sign + plain) : nil
    }

    /// Every '_' stands between two digits of `radix`.
    static func underscoresBetweenDigits(_ text: Substring, radix: Int) -> Bool {
        let characters = Array(text)
        func isDigit(_ k: Int) -> Bool { k >= 0 && k < characters.count && characters[k].hexDigitValue.map { $0 < radix } == true }
        return characters.indices.allSatisfy { characters[$0] != "_" || (isDigit($0 - 1) && isDigit($0 + 1)) }
    }
}
