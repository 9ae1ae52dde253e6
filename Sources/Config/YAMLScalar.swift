import Foundation

/// The value of one YAML scalar: the core schema (null, booleans, integers, floats) with YAML
/// 1.1's yes/no/on/off and 0-prefixed octal as Yams resolves them, so files keep their meaning.
/// Pure string matching and overflow-checked conversion: no input can trap here (Yams' own
/// constructor overflows on sexagesimal integers such as `1:0:0:0:0:0:0:0:0:0:0:0`, which this
/// reads as a string).
enum YAMLScalar {
    static let nulls: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trues: Set<String> = ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"]
    static let falses: Set<String> = ["false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"]

    /// A plain (unquoted, untagged) scalar.
    static func plain(_ text: String) -> Any {
        if nulls.contains(text) { return NSNull() }
        if trues.contains(text) { return true }
        if falses.contains(text) { return false }
        if let i = integer(text) { return i }
        if let d = float(text) { return d }
        return text
    }

    /// Tags a scalar may carry (`!!int 3`, `!!str 3`, `! 3`); others (`!!binary`, `!custom`) are refused.
    static let coreTags = Set(["str", "int", "float", "bool", "null"].map { "tag:yaml.org,2002:" + $0 } + ["!"])

    /// A scalar with one of `coreTags`; nil when the text is not of the tag's kind.
    static func tagged(_ text: String, tag: String) -> Any? {
        switch tag.dropFirst("tag:yaml.org,2002:".count) {
        case "int": return integer(text)
        case "float": return float(text) ?? integer(text).map(Double.init)
        case "bool": return trues.contains(text) ? true : falses.contains(text) ? false : nil
        case "null": return nulls.contains(text) ? NSNull() : nil
        default: return text
        }
    }

    /// Decimal, `0x`, `0o`, `0b` or 0-prefixed octal, with optional sign and `_` separators.
    static func integer(_ text: String) -> Int? {
        var body = Substring(text.replacingOccurrences(of: "_", with: ""))
        let negative = body.hasPrefix("-")
        if negative || body.hasPrefix("+") { body = body.dropFirst() }
        guard !body.isEmpty, !text.hasPrefix("_") else { return nil }
        var radix = 10
        for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where body.hasPrefix(prefix) {
            radix = r
            body = body.dropFirst(2)
        }
        if radix == 10 && body.count > 1 && body.hasPrefix("0") { radix = 8 }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
        guard let magnitude = UInt64(body, radix: radix) else { return nil }
        if negative { return magnitude <= UInt64(Int.max) + 1 ? Int(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int.max) ? Int(magnitude) : nil
    }

    /// `1.5`, `-2e3`, `.5`, `1_000.0`, `.inf`, `-.inf`, `.nan`.
    static func float(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        let plain = text.replacingOccurrences(of: "_", with: "")
        let allowed = plain.allSatisfy { "0123456789.eE+-".contains($0) }
        guard allowed, plain.contains(where: \.isNumber), !plain.hasPrefix("_") else { return nil }
        return Double(plain)
    }
}
