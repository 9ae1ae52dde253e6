import Config
import Foundation
import Training

/// Runs side by side in the terms of the trade-off (§1 of the study): what each reached
/// against how much it communicated and how long it took, measured here and modelled on its
/// network with one worker per machine. `localsgd study quickstart` prints it.
public struct RunTable: Sendable {
    public struct Row: Sendable {
        public var label: String
        public var testAccuracy: Double?
        /// Weight averages, or gradient all-reduces for minibatch phases.
        public var syncs: Int?
        /// Payload bytes each worker sent.
        public var bytesPerWorker: Int?
        /// Training seconds measured here, all K workers simulated (evaluation excluded).
        public var measuredSeconds: Double?
        /// Training seconds on the run's network model, one worker per machine.
        public var modelledSeconds: Double?
        /// Why the run has no numbers (failed or unfinished).
        public var error: String?
    }

    public var rows: [Row]
    /// The network every run was modelled on, nil if they differ or none was.
    public var network: String?

    /// One row per record, in the order given.
    public init(_ records: [RunRecord]) {
        rows = records.map { r in
            let s = r.summary
            return Row(label: r.label, testAccuracy: s?.testAccuracy, syncs: s?.syncs, bytesPerWorker: s?.bytesCommunicated,
                       measuredSeconds: s?.time.training, modelledSeconds: s?.modelledSeconds,
                       error: s == nil ? (r.error ?? "unfinished") : nil)
        }
        let networks = Set(records.map { $0.config.execution.network ?? "" })
        network = networks.count == 1 && networks.first != "" ? networks.first : nil
    }

    /// A fixed-width table and two lines saying what the time columns mean.
    public var text: String {
        let header = ["run", "test acc.", "syncs", "sent/worker", "measured s", "modelled s"]
        let cells = rows.map { r -> [String] in
            guard r.error == nil else { return [r.label, "failed: " + (r.error!.split(separator: "\n").first.map(String.init) ?? "")] }
            return [r.label, r.testAccuracy.map { String(format: "%.2f %%", 100 * $0) } ?? "–", r.syncs.map(String.init) ?? "–",
                    r.bytesPerWorker.map(RunTable.bytes) ?? "–", r.measuredSeconds.map { String(format: "%.1f", $0) } ?? "–",
                    r.modelledSeconds.map { String(format: "%.1f", $0) } ?? "–"]
        }
        var widths = header.map(\.count)
        for row in cells where row.count == header.count {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ row: [String]) -> String {
            guard row.count == header.count else { return RunTable.pad(row[0], widths[0], left: true) + "  " + row[1] }
            return row.enumerated().map { i, cell in RunTable.pad(cell, widths[i], left: i == 0) }.joined(separator: "  ")
        }
        var lines = [line(header)] + cells.map(line)
        lines.append("measured s: training time on this machine, all K workers simulated on it (evaluation excluded)")
        lines.append("modelled s: the same training with one worker per machine on " + (network ?? "each run's network"))
        return lines.joined(separator: "\n") + "\n"
    }

    /// `0 B`, `950 B`, `1.6 kB`, `311.4 MB`: decimal units, as network rates are given.
    public static func bytes(_ count: Int) -> String {
        guard count >= 1000 else { return "\(count) B" }
        var value = Double(count), unit = 0
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        while value >= 999.95 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return String(format: "%.1f %@", value, units[unit])
    }

    static func pad(_ text: String, _ width: Int, left: Bool) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }
}
