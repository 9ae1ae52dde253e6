import Config
import Foundation
import Training

extension SweepSpec {
    /// The spec as a sweep file in TOML, readable by `SweepSpec.load` (presets write this).
    public var toml: String {
        var lines: [String] = ["# Sweep file for `localsgd sweep` (format: docs/STUDY.md)."]
        if let seeds { lines.append("seeds = [\(seeds.map(\.toml).joined(separator: ", "))]") }
        lines.append("")
        lines.append("[base]")
        for key in RunConfig.fieldNames where base[key] != nil { lines.append("\(key) = \(base[key]!.toml)") }
        if !axes.isEmpty {
            lines.append("")
            lines.append("[axes]")
            for axis in axes { lines.append("\(axis.field) = [\(axis.values.map(\.toml).joined(separator: ", "))]") }
        }
        for include in includes {
            lines.append("")
            lines.append("[[include]]")
            for axis in include {
                // In an include a flat list of a list-valued field (group_size) is one value.
                let listField = RunConfig.integerListFields.contains(axis.field)
                if axis.values.count == 1 {
                    lines.append("\(axis.field) = \(axis.values[0].toml)")
                } else {
                    let values = axis.values.map { listField && !$0.isList ? "[\($0.toml)]" : $0.toml }
                    lines.append("\(axis.field) = [\(values.joined(separator: ", "))]")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension SweepValue {
    var isList: Bool { if case .list = self { return true } else { return false } }
}
