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
        // Cross-entropy per predicted token of a text model, per classified image otherwise.
        let yLabel = groups[0].config.data.dataset == .text ? "held-out loss (nats per token)" : "held-out loss (nats per sample)"
        for k in ReportFamily.sortedUnique(curved.map(\.workers)) {
            let atK = curved.filter { $0.workers == k }.sorted { a, b in
                (a.algorithm != "diloco" ? 1 : 0, a.localSteps, a.config.algorithm.outerOptimizer.rawValue)
                    < (b.algorithm != "diloco" ? 1 : 0, b.localSteps, b.config.algorithm.outerOptimizer.rawValue)
            }
            let bySteps = atK.map { g in
                ChartSeries(ReportFamily.curveLabel(g), ReportFamily.epochCurve(g, x: { Double($0.steps) }), dashed: g.algorithm != "diloco")
            }
            let byBytes = atK.map { g in
                ChartSeries(ReportFamily.curveLabel(g), ReportFamily.epochCurve(g, x: { $0.cumulativeMB }), dashed: g.algorithm != "diloco")
            }
            charts.append(.line(LineChart(title: "Held-out loss vs iterations, K=\(k)", xLabel: "iterations",
                                          yLabel: yLabel, series: bySteps)))
            // Megabytes span orders of magnitude across H: a log axis, unless a run sent nothing.
            let positive = byBytes.allSatisfy { $0.points.allSatisfy { $0.x > 0 } }
            charts.append(.line(LineChart(title: "Held-out loss vs communication, K=\(k)",
                                          xLabel: positive ? "MB sent per worker (log scale)" : "MB sent per worker",
                                          yLabel: yLabel, series: byBytes, xScale: positive ? .log2 : .linear)))
        }
        return .drawn(Figure(id: "curves", title: "Loss curves — DiLoCo, local and minibatch SGD",
                             caption: "Held-out loss after every epoch, median over seeds (band: min to max), against iterations and against megabytes each worker sent (log scale). DiLoCo solid (\"averaging\": outer SGD at rate 1, FedAvg), the others dashed. DiLoCo's paper finds its outer Nesterov step beats plain averaging (outer SGD at rate 1, FedAvg) at the same H, smaller H better, and communication falling by H.",
                             charts: charts))
    }

    /// A short legend entry (the chart's title names K): `H=50 nesterov`, `H=50 averaging` (outer
    /// SGD at rate 1 without momentum), `H=50 adam η=0.01` for another rate, `minibatch`, `local H=4`, each followed by its
    /// variant (`RunGroup.variant`: ` P=4 τ=2`, ` QSR α=0.1`, ` int8`, …).
    static func curveLabel(_ g: RunGroup) -> String {
        let a = g.config.algorithm
        guard g.algorithm == "diloco" else { return (g.algorithm == "minibatch" ? "minibatch" : "\(g.algorithm) H=\(g.localSteps)") + g.variant }
        let outer = a.dilocoOuterOptimizer, lr = a.resolvedOuterLr
        var s = "H=\(g.localSteps) "
        if a.outerOptimizer == .sgd && outer.momentum == 0 && lr == 1 { s += "averaging" } else { s += a.outerOptimizer.rawValue }
        if a.outerLr != nil && !(a.outerOptimizer == .sgd && lr == 1) { s += " η=\(SVG.label(Double(lr)))" }
        if a.outerMomentum != nil { s += " μ=\(SVG.label(Double(outer.momentum)))" }
        if a.outerLrSchedule != .constant { s += " \(a.outerLrSchedule.rawValue)" }
        return s + g.variant
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
