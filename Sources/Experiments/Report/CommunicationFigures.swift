import Comm
import Foundation

/// What each run reached against what it communicated, one line per way of communicating: the
/// figure of `study compression` (codecs with and without error feedback, across H) and of
/// `study schedules` (constant H against the Quadratic Synchronization Rule and streaming
/// fragments), drawn for any family with such runs.
extension ReportFamily {
    func accuracyVsCommunication() -> FigureResult {
        let varied = groups.filter { g in
            let a = g.config.algorithm
            return a.compress != .none || a.hasVaryingLocalSteps || a.isStreaming
        }
        guard !varied.isEmpty else { return .skipped("needs runs with --compress, QSR, an H schedule or streaming") }
        let text = groups[0].config.data.dataset == .text
        let value: (RunRecord) -> Double? = text ? Quantity.testLoss : Quantity.testAccuracy
        let yLabel = text ? "held-out loss (nats per token)" : "validation accuracy (%)"
        let names = ReportFamily.communicationVariants(groups)
        // Legend from the heaviest sender to the lightest (fp32, fp16, int8, top-k; constant H
        // from small H), ties by name.
        let mostBytes = Dictionary(zip(names, groups.map { g in g.aggregate { $0.summary.map { Double($0.bytesCommunicated) } }?.median ?? 0 }),
                                   uniquingKeysWith: max)
        let order = names.uniqued().sorted { (mostBytes[$0] ?? 0, $1) > (mostBytes[$1] ?? 0, $0) }
        var charts: [Chart] = []
        for k in ReportFamily.sortedUnique(groups.map(\.workers)) where k > 1 {
            let atK = groups.indices.filter { groups[$0].workers == k }
            let axes: [(title: String, label: String, x: (RunGroup) -> Double?, log: Bool)] = [
                ("vs megabytes sent, K=\(k)", "MB sent per worker (log scale)", { g in
                    g.aggregate { $0.summary.map { Double($0.bytesCommunicated) / 1e6 } }?.median }, true),
                ("vs synchronizations, K=\(k)", "synchronizations (log scale)", { g in g.aggregate { $0.summary.map { Double($0.syncs) } }?.median }, true),
                ("vs modelled time, K=\(k)", "modelled seconds on the run's network (typical compute)",
                 { g in g.aggregate(self.modelledWithTypicalCompute)?.median }, false),
            ]
            for axis in axes {
                var series: [ChartSeries] = []
                for name in order {
                    let points = atK.filter { names[$0] == name }.compactMap { i -> ChartPoint? in
                        let g = groups[i]
                        guard let x = axis.x(g), x > 0 || !axis.log, let y = g.aggregate(value) else { return nil }
                        return y.point(x: x)
                    }
                    if !points.isEmpty { series.append(ChartSeries(name, points.sorted { $0.x < $1.x })) }
                }
                guard !series.isEmpty else { continue }
                charts.append(.line(LineChart(title: (text ? "Held-out loss " : "Validation accuracy ") + axis.title, xLabel: axis.label,
                                              yLabel: yLabel, series: series, xScale: axis.log ? .log2 : .linear)))
            }
        }
        guard !charts.isEmpty else { return .skipped("needs finished runs with K > 1 that communicated") }
        return .drawn(Figure(id: "communication", title: "Trade-off — accuracy vs communication",
                             caption: "Final " + (text ? "held-out loss" : "validation accuracy") + " (median over seeds, min–max bars) against the megabytes each worker sent, the synchronizations and the modelled training time (the family's median compute per iteration plus each run's modelled communication, so the machine's load does not blur it), one line per way of communicating; along a line the points are its runs at different H (minibatch SGD is H = 1: the most bytes and rounds). Streaming DiLoCo counts each fragment's synchronization. A codec or schedule that is better at equal communication lies above (for loss: below) the others at the same x.",
                             charts: charts))
    }

    /// A legend name for each group's way of communicating, in the order of `groups`: the codec
    /// (`fp32`, `fp16`, `int8`, `top-k 1%`, `+ EF`), the schedule (`constant H`, `QSR α=0.2`,
    /// `H schedule`) and streaming (`streaming P=4 τ=2`), keeping only the parts that differ
    /// within the family (so a codec study reads `int8`, a schedule study `QSR α=0.2`).
    static func communicationVariants(_ groups: [RunGroup]) -> [String] {
        let parts = groups.map { g -> [String] in
            let a = g.config.algorithm
            var codec = a.compress == .none ? "fp32" : a.compress == .topk ? "top-k \(SVG.label(100 * a.compressRatio))%" : a.compress.rawValue
            if a.errorFeedback { codec += " + EF" }
            let schedule = a.qsrAlpha.map { "QSR α=\(SVG.label(Double($0)))" } ?? (a.localStepsSchedule != nil ? "H schedule" : "constant H")
            let streaming = a.isStreaming ? "streaming P=\(a.streamingFragments) τ=\(a.streamingOverlap)" : ""
            return [codec, schedule, streaming]
        }
        let differing = (0..<3).filter { i in Set(parts.map { $0[i] }).count > 1 }
        return parts.map { p in
            // Streaming runs a constant H: its name says streaming, not the schedule.
            let name = differing.filter { !($0 == 1 && !p[2].isEmpty) }.map { p[$0] }.filter { !$0.isEmpty }.joined(separator: ", ")
            return name.isEmpty ? "runs" : name
        }
    }
}

extension Sequence where Element: Hashable {
    /// The elements in order of first appearance, each once.
    func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}
