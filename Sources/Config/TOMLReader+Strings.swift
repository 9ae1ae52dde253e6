/// Strings: `"basic"` with escapes, `'literal'`, and their multi-line forms `"""…"""` and
/// `'''…'''` (a line break right after the opening quotes is dropped; in a basic one a backslash
/// at the end of a line joins it to the next non-blank text).
extension TOMLReader {
    mutating func basicString() throws -> String {
        let multiLine = bytes[i...].starts(with: Array("\"\"\"".utf8))
        i += multiLine ? 3 : 1
        if multiLine { try dropFirstLineBreak() }
        var text: [UInt8] = []
        while true {
            guard let c = peek else { throw fail("a string ends without its closing quote") }
            if c == UInt8(ascii: "\"") {
                if !multiLine { i += 1; break }
                if try closesMultiLine(quote: c, into: &text) { break }
                continue
            }
            if c == UInt8(ascii: "\\") {
                i += 1
                if multiLine, try joinsLines() { continue }
                try escape(into: &text)
                continue
            }
            try character(c, multiLine: multiLine, into: &text)
        }
        return String(decoding: text, as: UTF8.self)
    }

    mutating func literalString() throws -> String {
        let multiLine = bytes[i...].starts(with: Array("'''".utf8))
        i += multiLine ? 3 : 1
        if multiLine { try dropFirstLineBreak() }
        var text: [UInt8] = []
        while true {
            guard let c = peek else { throw fail("a string ends without its closing quote") }
            if c == UInt8(ascii: "'") {
                if !multiLine { i += 1; break }
                if try closesMultiLine(quote: c, into: &text) { break }
                continue
            }
            try character(c, multiLine: multiLine, into: &text)
        }
        return String(decoding: text, as: UTF8.self)
    }

    mutating func dropFirstLineBreak() throws {
        if peek == UInt8(ascii: "\n") || peek == UInt8(ascii: "\r") { try newline() }
    }

    /// One character of a string's text: line breaks only in multi-line strings, no control
    /// characters but tab.
    mutating func character(_ c: UInt8, multiLine: Bool, into text: inout [UInt8]) throws {
        if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
            guard multiLine else { throw fail("a string ends without its closing quote") }
            try newline()
            text.append(UInt8(ascii: "\n"))
            return
        }
        if (c < 0x20 && c != UInt8(ascii: "\t")) || c == 0x7f { throw fail("a string holds the control character U+" + String(c, radix: 16)) }
        text.append(c)
        i += 1
    }

    /// At a quote in a multi-line string: three close it, and up to two more just before them
    /// belong to the text; one or two are text.
    mutating func closesMultiLine(quote: UInt8, into text: inout [UInt8]) throws -> Bool {
        var run = 0
        while peek == quote { run += 1; i += 1 }
        guard run >= 3 else { text += Array(repeating: quote, count: run); return false }
        guard run <= 5 else { throw fail("a multi-line string closes with more than five quotes") }
        text += Array(repeating: quote, count: run - 3)
        return true
    }

    /// After a backslash in a multi-line basic string: if only blanks follow on the line, skips
    /// them, the line break and all blank space after it.
    mutating func joinsLines() throws -> Bool {
        var k = i
        while k < bytes.count, bytes[k] == UInt8(ascii: " ") || bytes[k] == UInt8(ascii: "\t") { k += 1 }
        guard k < bytes.count, bytes[k] == UInt8(ascii: "\n") || bytes[k] == UInt8(ascii: "\r") else { return false }
        i = k
        while let c = peek, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 } else { try newline() }
        }
        return true
    }

    /// `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`, the backslash already read.
    mutating func escape(into text: inout [UInt8]) throws {
        guard let c = peek else { throw fail("a string ends without its closing quote") }
        i += 1
        let simple: [UInt8: UInt8] = [UInt8(ascii: "b"): 8, UInt8(ascii: "t"): 9, UInt8(ascii: "n"): 10, UInt8(ascii: "f"): 12,
                                      UInt8(ascii: "r"): 13, UInt8(ascii: "\""): 34, UInt8(ascii: "\\"): 92]
        if let byte = simple[c] { text.append(byte); return }
        guard c == UInt8(ascii: "u") || c == UInt8(ascii: "U") else {
            throw fail("'\\" + String(decoding: [c], as: UTF8.self) + "' is no escape in a TOML string")
        }
        let count = c == UInt8(ascii: "u") ? 4 : 8
        let hex = bytes[i..<min(i + count, bytes.count)]
        guard hex.count == count, let code = UInt32(String(decoding: hex, as: UTF8.self), radix: 16),
              let scalar = Unicode.Scalar(code) else {
            throw fail("'\\\(c == UInt8(ascii: "u") ? "u" : "U")' must be followed by \(count) hex digits of a Unicode scalar value")
        }
        i += count
        text += Array(String(Character(scalar)).utf8)
    }
}
