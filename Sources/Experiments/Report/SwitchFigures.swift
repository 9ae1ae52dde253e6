import Foundation
import Training

/// Figures 7, 8 and 11 of the study: post-local SGD's switching point T, and the curves that
/// show its short-term regularisation.
extension ReportFamily {
    /// Post-local groups of `schedule` (without SlowMo) of the family's base variant, with local
    /// SGD counted as T = 0, for the (K, H) with most switching points; and the minibatch
    /// baseline at that K. Another variant (a base-momentum policy, a codec) would put a second
    /// point at the same T on the line.
    private func switchSeries(schedule: String) -> (k: Int, byH: [Int: [(t: Double, group: RunGroup)]], minibatch: RunGroup?)? {
        var candidates: [String: [(Double, RunGroup)]] = [:]
        let base = baseVariant
        for g in groups where g.schedule == schedule && g.variant == base {
            let t: Double? = g.algorithm == "post-local" ? g.switchEpoch : (g.algorithm == "local" ? 0 : nil)
            if let t { candidates["\(g.workers)", default: []].append((t, g)) }
        }
        // Most switching points wins; among equals, the larger K (the study uses K=64).
        guard let best = candidates.max(by: { a, b in
            (Set(a.value.map(\.0)).count, Int(a.key) ?? 0) < (Set(b.value.map(\.0)).count, Int(b.key) ?? 0)
        }), Set(best.value.map(\.0)).count >= 2, let k = Int(best.key) else { return nil }
        var byH: [Int: [(t: Double, group: RunGroup)]] = [:]
        for (t, g) in best.value { byH[g.localSteps, default: []].append((t, g)) }
        let minibatch = groups.first { $0.algorithm == "minibatch" && $0.workers == k && $0.schedule == schedule && $0.variant == base }
        return (k, byH, minibatch)
    }

    func switchFigure(schedule: String) -> FigureResult {
        let number = schedule == "step" ? 7 : 8
        guard let s = switchSeries(schedule: schedule) else {
            return .skipped("needs post-local runs with the \(schedule) schedule at two or more switching points (local SGD counts as T=0) at one K")
        }
        let lines = s.byH.keys.sorted().compactMap { h -> ChartSeries? in
            let points = s.byH[h]!.compactMap { $0.group.aggregate(Quantity.testAccuracy)?.point(x: $0.t) }
            return points.count < 1 ? nil : ChartSeries("H=\(h)", points.sorted { $0.x < $1.x })
        }
        var chart = LineChart(title: "K=\(s.k), \(schedule) schedule", xLabel: "switching epoch T", yLabel: "validation accuracy (%)", series: lines)
        if let m = s.minibatch?.aggregate(Quantity.testAccuracy) { chart.references = [("mSGD", m.median)] }
        return .drawn(Figure(id: String(format: "fig%02d", number),
                             title: "Fig. \(number) — Switching point, \(schedule) schedule",
                             caption: "Final validation accuracy of post-local SGD against the epoch T at which it switches from minibatch to local SGD (T=0 is local SGD throughout), one line per H, median over seeds with min–max bars; the dotted line is minibatch SGD.",
                             charts: [.line(chart)]))
    }

    func figure11() -> FigureResult {
        var charts: [Chart] = []
        for schedule in ["step", "cosine"] {
            guard let s = switchSeries(schedule: schedule),
                  let h = s.byH.max(by: { $0.value.count < $1.value.count || ($0.value.count == $1.value.count && $0.key > $1.key) })?.key
            else { continue }
            var curves = s.byH[h]!.sorted { $0.t < $1.t }.map { (name: "T=\(SVG.label($0.t))", group: $0.group, dashed: false) }
            if let m = s.minibatch { curves.append((name: "mSGD", group: m, dashed: true)) }
            guard curves.contains(where: { ($0.group.runs.first?.metrics.count ?? 0) >= 2 }) else { continue }
            let quantities: [(String, (EpochMetricsValue) -> Double)] = [
                ("training loss", { $0.trainLoss }), ("training error (%)", { 100 * (1 - $0.trainAccuracy) }),
                ("validation error (%)", { 100 * (1 - $0.testAccuracy) }),
            ]
            for (label, value) in quantities {
                let series = curves.map { c in ChartSeries(c.name, ReportFamily.curve(c.group, value), dashed: c.dashed) }
                charts.append(.line(LineChart(title: "\(label.capitalizedFirst), K=\(s.k), H=\(h), \(schedule)",
                                              xLabel: "epoch", yLabel: label, series: series)))
            }
            // The effect is a fraction of a point: each run's errors minus those of minibatch SGD
            // with the same seed, which shares the same first epochs bit for bit.
            if let m = s.minibatch {
                for (label, value) in quantities.dropFirst() {
                    let series = curves.filter { !$0.dashed }.map { c in ChartSeries(c.name, ReportFamily.pairedDifference(c.group, m, value)) }
                    guard series.contains(where: { !$0.points.isEmpty }) else { continue }
                    var chart = LineChart(title: "\(label.replacingOccurrences(of: " (%)", with: "").capitalizedFirst) minus mSGD's, K=\(s.k), H=\(h), \(schedule)",
                                          xLabel: "epoch", yLabel: label.replacingOccurrences(of: "(%)", with: "difference (points)"), series: series)
                    chart.references = [("mSGD", 0)]
                    charts.append(.line(chart))
                }
            }
        }
        guard !charts.isEmpty else {
            return .skipped("needs post-local runs of two or more epochs at two or more switching points (local SGD counts as T=0) at one K and H")
        }
        return .drawn(Figure(id: "fig11", title: "Fig. 11 — Curves by switching point",
                             caption: "Training loss, training error and validation error after every epoch for post-local SGD switching at epoch T (T=0: local SGD), and minibatch SGD (dashed), median over seeds; then the errors minus those of minibatch SGD run with the same seed (a paired difference, median over seeds with min–max bars; below zero is better than minibatch SGD). After a switch, the study sees training error rise and validation error fall for a while, and the curves of different T follow one trajectory.",
                             charts: charts))
    }

    typealias EpochMetricsValue = (trainLoss: Double, trainAccuracy: Double, testAccuracy: Double)

    /// Median (min–max) over the seeds both groups ran of `value(run) − value(baseline run)` after
    /// each epoch: a paired difference, so seed-to-seed noise that both share cancels.
    static func pairedDifference(_ group: RunGroup, _ baseline: RunGroup, _ value: (EpochMetricsValue) -> Double) -> [ChartPoint] {
        let base = Dictionary(baseline.runs.map { ($0.config.execution.seed, $0) }) { a, _ in a }
        let pairs = group.runs.compactMap { r in base[r.config.execution.seed].map { (r, $0) } }
        let epochs = pairs.map { min($0.0.metrics.count, $0.1.metrics.count) }.min() ?? 0
        func v(_ m: EpochMetrics) -> Double { value((m.trainLoss, m.trainAccuracy, m.testAccuracy)) }
        return (0..<epochs).compactMap { e in
            Aggregate(pairs.map { v($0.0.metrics[e]) - v($0.1.metrics[e]) })?.point(x: Double(pairs[0].0.metrics[e].epoch))
        }
    }

    /// Median over the group's runs of `value` after each epoch.
    static func curve(_ group: RunGroup, _ value: (EpochMetricsValue) -> Double) -> [ChartPoint] {
        let epochs = group.runs.map(\.metrics.count).min() ?? 0
        return (0..<epochs).compactMap { e in
            Aggregate(group.runs.map { r in
                let m = r.metrics[e]
                return value((m.trainLoss, m.trainAccuracy, m.testAccuracy))
            })?.point(x: Double(group.runs[0].metrics[e].epoch))
        }
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
