import Config
import Foundation
import Training

/// One value of a sweep axis, as the file wrote it (before it becomes part of a `RunConfig`).
public enum SweepValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case null
    case list([SweepValue])

    /// From a parsed file value (TOML, YAML or JSON leaves); tables are not values.
    public init(_ value: Any, field: String, source: String) throws {
        switch value {
        case let s as String: self = .string(s)
        // The list before NSNull and NSNumber: casting a Swift array to a class bridges it to an
        // NSArray first, a copy of every element at every level (as `ConfigLoader.normalise`).
        case let list as [Any]: self = .list(try list.map { try SweepValue($0, field: field, source: source) })
        case is NSNull: self = .null
        case let n as NSNumber:
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "f", "d": self = .double(n.doubleValue)
            default: self = .int(n.intValue)
            }
        default:
            throw ConfigError("field '\(field)' in \(source) has a value that is not a number, string, boolean or list.")
        }
    }

    /// The JSON-compatible form `ConfigLoader.apply` takes.
    public var any: Any {
        switch self {
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .bool(let b): return b
        case .null: return NSNull()
        case .list(let l): return l.map(\.any)
        }
    }

    /// As it appears in a run's name: `4`, `0.05`, `cosine`, `2+4` for a list, `none` for null.
    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .null: return "none"
        case .list(let l): return l.isEmpty ? "none" : l.map(\.description).joined(separator: "+")
        }
    }

    /// TOML text of the value (for sweep files that presets write).
    public var toml: String {
        switch self {
        case .string(let s): return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .null: return "\"\""  // TOML has no null; presets never write one
        case .list(let l): return "[" + l.map(\.toml).joined(separator: ", ") + "]"
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)"
        default: return description
        }
    }
}
