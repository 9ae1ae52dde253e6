import Foundation

/// Held-out loss after every epoch against iterations and against bytes communicated, one line
/// per group: the figures of an outer-optimizer comparison (DiLoCo against local and minibatch
/// SGD, Douillard et al. 2023, Figs. 2–3), drawn for any family with DiLoCo runs.
extension ReportFamily {
    func lossCurves() -> FigureResult {
        guard groups.contains(where: { $0.algorithm == "diloco" }) else { return .skipped("needs DiLoCo runs") }
        let curved = groups.filter { ($0.runs.first?.metrics.count ?? 0) >= 2 }
        guard !curved.isEmpty else { return .skipped("needs runs of two or more epochs") }
        var charts: [Chart] = []
        for k in ReportFamily.sortedUnique(curved.map(\.workers)) {
            let atK = curved.filter { $0.workers == k }
            let bySteps = atK.map { g in
                ChartSeries(g.label, ReportFamily.epochCurve(g, x: { Double($0.steps) }), dashed: g.algorithm != "diloco")
            }
            let byBytes = atK.map { g in
                ChartSeries(g.label, ReportFamily.epochCurve(g, x: { $0.cumulativeMB }), dashed: g.algorithm != "diloco")
            }
            charts.append(.line(LineChart(title: "Held-out loss vs iterations, K=\(k)", xLabel: "iterations",
                                          yLabel: "held-out loss (nats per token)", series: bySteps)))
            charts.append(.line(LineChart(title: "Held-out loss vs communication, K=\(k)", xLabel: "MB sent per worker",
                                          yLabel: "held-out loss (nats per token)", series: byBytes)))
        }
        return .drawn(Figure(id: "curves", title: "Loss curves — DiLoCo, local and minibatch SGD",
                             caption: "Held-out loss after every epoch, median over seeds (band: min to max), against iterations and against megabytes each worker sent. DiLoCo solid, the others dashed. DiLoCo's paper finds its outer Nesterov step beats plain averaging (outer SGD at rate 1, FedAvg) at the same H, smaller H better, and communication falling by H.",
                             charts: charts))
    }

    /// One point per epoch of the group (as many epochs as its shortest run): x from the first
    /// run's epoch record, y the median held-out loss over the runs.
    static func epochCurve(_ group: RunGroup, x: (EpochPoint) -> Double) -> [ChartPoint] {
        let epochs = group.runs.map(\.metrics.count).min() ?? 0
        var megabytes = 0.0
        return (0..<epochs).compactMap { e in
            let m = group.runs[0].metrics[e]
            megabytes += Double(m.bytesCommunicated) / 1e6
            return Aggregate(group.runs.map { $0.metrics[e].testLoss })?.point(x: x(EpochPoint(steps: m.steps, cumulativeMB: megabytes)))
        }
    }

    struct EpochPoint {
        var steps: Int
        var cumulativeMB: Double
    }
}
