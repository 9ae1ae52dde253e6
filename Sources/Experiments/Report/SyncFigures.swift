import Algorithms
import Foundation

/// The record of synchronizations (`syncs.jsonl`): how far the workers drifted apart before each
/// weight average (consensus distance, Kong et al. 2021) and how far the average moved from the
/// previous one (the pseudo-gradient's norm), against iterations, one line per run (Streaming
/// DiLoCo's fragment lines combined per round: `syncPoints`).
extension ReportFamily {
    func syncFigure() -> FigureResult {
        let recorded = groups.compactMap { g -> (RunGroup, [SyncRecord])? in
            guard let run = g.runs.first(where: { !($0.syncs ?? []).isEmpty }) else { return nil }
            return (g, run.syncs!)
        }
        guard !recorded.isEmpty else { return .skipped("needs runs with weight averages in syncs.jsonl") }
        var charts: [Chart] = []
        for k in ReportFamily.sortedUnique(recorded.map(\.0.workers)) {
            let atK = recorded.filter { $0.0.workers == k }.sorted { ($0.0.localSteps, $0.0.label) < ($1.0.localSteps, $1.0.label) }
            func series(_ value: (SyncRecord) -> Double?) -> [ChartSeries] {
                atK.map { g, syncs in
                    ChartSeries(ReportFamily.syncLabel(g), ReportFamily.syncPoints(syncs, value), dashed: g.algorithm == "hierarchical")
                }
            }
            charts.append(.line(LineChart(title: "Consensus distance before each average, K=\(k)", xLabel: "iterations",
                                          yLabel: "consensus distance (L2, weight units)", series: series { $0.consensusDistance })))
            charts.append(.line(LineChart(title: "Pseudo-gradient norm at each average, K=\(k)", xLabel: "iterations",
                                          yLabel: "‖anchor − average‖ (L2, weight units)", series: series { $0.pseudoGradientNorm })))
        }
        return .drawn(Figure(id: "syncs", title: "Synchronizations — consensus distance and pseudo-gradient norm",
                             caption: "From syncs.jsonl, one point per weight average or outer step (gradient all-reduces left out), first seed of each configuration; runs without the file are left out. Consensus distance: sqrt((1/K) Σ‖x_k − x̄‖²) before the average, inside each group for a hierarchical level (dashed lines). Pseudo-gradient norm: ‖a − x̄‖ from the weights right after the previous average covering the group (DiLoCo, SlowMo: the outer weights x₀). Streaming DiLoCo: one point per H iterations, at fragment 0's synchronization, from every fragment's latest line (each at the iteration it was sent) as sqrt(Σ_p v_p²), the whole model's value since the fragments' coordinates are disjoint. Under --faults, over the workers present. Both grow with H and with the learning rate; Kong et al. (2021) find training suffers when the consensus distance stays large early on.",
                             charts: charts))
    }

    /// The points of one run's lines: a whole-model line at its iteration; Streaming DiLoCo's
    /// fragment lines combined per round (after the iteration where fragment 0 synchronized,
    /// every fragment's latest value v_p as sqrt(Σ_p v_p²)), so that a streaming run reads on the
    /// scale of plain DiLoCo's at the same H rather than as P lines each of 1/P of the model.
    /// A round with a fragment not yet synchronized (or a value missing) gives no point.
    static func syncPoints(_ syncs: [SyncRecord], _ value: (SyncRecord) -> Double?) -> [ChartPoint] {
        let fragments = (syncs.compactMap(\.fragment).max() ?? -1) + 1
        var latest = [Double?](repeating: nil, count: fragments)
        var points: [ChartPoint] = []
        var roundEnd: Int?
        for (i, s) in syncs.enumerated() {
            guard let p = s.fragment else {
                if let y = value(s) { points.append(ChartPoint(x: Double(s.step + 1), y: y)) }
                continue
            }
            latest[p] = value(s)
            if p == 0 { roundEnd = s.step }
            // The round ends with the last line of the iteration where fragment 0 synchronized.
            let endsIteration = i + 1 == syncs.count || syncs[i + 1].step != s.step
            guard endsIteration, roundEnd == s.step, latest.allSatisfy({ $0 != nil }) else { continue }
            points.append(ChartPoint(x: Double(s.step + 1), y: latest.reduce(0) { $0 + $1! * $1! }.squareRoot()))
        }
        return points
    }

    /// `local H=4`, `hierarchical H=2`, DiLoCo as the loss curves say it (`curveLabel`).
    static func syncLabel(_ g: RunGroup) -> String {
        g.algorithm == "diloco" ? "diloco " + curveLabel(g) : "\(g.algorithm) H=\(g.localSteps)" + g.variant
    }
}
