import Foundation

/// Figures 1–3 of the study: where an iteration's time goes, total time and speedup vs K.
extension ReportFamily {
    /// Minibatch and local groups of the primary schedule, one per (K, H), minibatch as H = 1.
    private var timedGroups: [RunGroup] {
        var chosen: [String: RunGroup] = [:]
        for g in select("local") + select("minibatch") {
            let h = g.algorithm == "minibatch" ? 1 : g.localSteps
            chosen["\(g.workers) \(h)"] = g  // minibatch (later) wins over local H=1
        }
        return chosen.values.sorted { ($0.workers, $0.algorithm == "minibatch" ? 1 : $0.localSteps) < ($1.workers, $1.algorithm == "minibatch" ? 1 : $1.localSteps) }
    }

    func figure1() -> FigureResult {
        let groups = timedGroups
        guard groups.count >= 2 else {
            return .skipped("needs minibatch or local runs at two or more (K, H) settings; found \(groups.count)")
        }
        let categories = groups.map { "K=\($0.workers) H=\($0.algorithm == "minibatch" ? 1 : $0.localSteps)" }
        func part(_ name: String, scale: Bool, _ f: @escaping (RunRecord) -> Double) -> BarSeries {
            BarSeries(name, groups.map { g in
                g.aggregate { r in r.summary.map { s in 1e3 * f(r) / Double(max(1, s.steps)) * (scale ? Quantity.perWorker(r) : 1) } }?.median
            })
        }
        func parts(scale: Bool) -> [BarSeries] {
            [part("data", scale: scale) { $0.summary!.time.data }, part("forward", scale: scale) { $0.summary!.time.forward },
             part("backward", scale: scale) { $0.summary!.time.backward }, part("optimizer", scale: scale) { $0.summary!.time.optimizer }]
        }
        var charts: [Chart] = []
        let modelled = BarSeries("communication", groups.map { g in
            g.aggregate { Quantity.modelledCommunicationPerIteration($0).map { 1e3 * $0 } }?.median
        })
        let network = groups[0].config.execution.network
        if let network, let typical = typicalCompute, modelled.values.contains(where: { $0 != nil }) {
            let parts = zip(["data", "forward", "backward", "optimizer"], typical).map { name, seconds in
                BarSeries(name, groups.map { _ in 1e3 * seconds })
            }
            charts.append(.bar(bars("One worker on \(network) (modelled)", categories, parts + [modelled])))
        }
        let measured = part("communication", scale: false) { $0.summary!.time.communication }
        charts.append(.bar(bars("Measured on this machine (all K workers simulated)", categories, parts(scale: false) + [measured])))
        return .drawn(Figure(id: "fig01", title: "Fig. 1 — Time per iteration by part",
                             caption: "Mean milliseconds per training iteration split into data loading, forward, backward, optimizer and communication (median over seeds). "
                                + (network == nil ? "The runs have no network model (set `network`), so only the measured split is shown; on one machine communication is an in-memory average. "
                                    : "The first chart is one worker: its compute is the median over this family's runs of one worker's measured share (the simulator runs K workers on min(threads, K) threads), the same in every bar since the work per iteration is, and its communication is the run's synchronizations as all-reduces on the network model. The second chart is what this machine measured for all K simulated workers. ")
                                + "H=1 is minibatch SGD.", charts: charts))
    }

    private func bars(_ title: String, _ categories: [String], _ series: [BarSeries]) -> BarChart {
        var chart = BarChart(title: title, xLabel: "workers K, local steps H", yLabel: "ms per iteration",
                             categories: categories, series: series, mode: .stacked)
        chart.frame.height = 400
        chart.frame.bottom = 96
        return chart
    }

    /// Time lines vs K: local per H, minibatch, post-local per H (dashed).
    private func timeLines(_ value: @escaping (RunRecord) -> Double?) -> [ChartSeries] {
        var lines = ReportFamily.linesByH(select("local"), prefix: "local H=", x: { Double($0.workers) }, value: value)
        if let m = ReportFamily.minibatchLine(select("minibatch"), x: { Double($0.workers) }, value: value) { lines.insert(m, at: 0) }
        lines += ReportFamily.linesByH(select("post-local"), prefix: "post-local H=", dashed: true, x: { Double($0.workers) }, value: value)
        return lines
    }

    func figure2() -> FigureResult {
        let ks = ReportFamily.sortedUnique((select("local") + select("minibatch") + select("post-local")).map(\.workers))
        guard ks.count >= 2 else { return .skipped("needs local, post-local or minibatch runs at two or more values of K; found \(ks.count)") }
        var charts: [Chart] = []
        let modelled = timeLines(modelledWithTypicalCompute)
        if !modelled.isEmpty {
            var c = LineChart(title: "Modelled on \(groups[0].config.execution.network ?? "?")", xLabel: "workers K", yLabel: "training seconds",
                              series: modelled, xScale: .log2)
            c.yInclude = [0]
            charts.append(.line(c))
        }
        var measured = LineChart(title: "Measured on this machine (all K workers simulated)", xLabel: "workers K",
                                 yLabel: "training seconds", series: timeLines(Quantity.measuredSeconds), xScale: .log2)
        measured.yInclude = [0]
        charts.append(.line(measured))
        return .drawn(Figure(id: "fig02", title: "Fig. 2 — Total time vs workers",
                             caption: "Training time (evaluation excluded) for the whole run, median over seeds with min–max bars. "
                                + "Modelled time is the wall-clock with one worker per machine: iterations × (one worker's compute per iteration, the median over this family's runs\(typicalCompute.map { String(format: ", %.3g ms", 1e3 * $0.reduce(0, +)) } ?? "") + the run's all-reduces per iteration on the network model); each run's own modelled_seconds, with its own measured compute, is in the table and runs.csv. "
                                + "Measured time on this machine does not fall with K, since one machine does the work of all K workers."
                                + (modelled.isEmpty ? " No run has a network model, so the modelled chart is missing." : ""),
                             charts: charts))
    }

    func figure3() -> FigureResult {
        func ratios(_ value: @escaping (RunRecord) -> Double?, _ algorithm: String) -> [ChartSeries] {
            let lines = ReportFamily.sortedUnique(select(algorithm).map(\.localSteps)).filter { $0 > 1 || algorithm == "post-local" }.compactMap { h -> ChartSeries? in
                let points = select(algorithm).filter { $0.localSteps == h }.compactMap { g -> ChartPoint? in
                    guard let base = baseline(workers: g.workers)?.aggregate(value)?.median, let t = g.aggregate(value)?.median, t > 0 else { return nil }
                    return ChartPoint(x: Double(g.workers), y: base / t)
                }
                return points.isEmpty ? nil : ChartSeries("\(algorithm) H=\(h)", points.sorted { $0.x < $1.x }, dashed: algorithm == "post-local")
            }
            return lines
        }
        let modelled = ratios(modelledWithTypicalCompute, "local") + ratios(modelledWithTypicalCompute, "post-local")
        let measured = ratios(Quantity.measuredSeconds, "local") + ratios(Quantity.measuredSeconds, "post-local")
        guard !measured.isEmpty else {
            return .skipped("needs local runs with H > 1 (or post-local runs) and a minibatch or H=1 run at the same K")
        }
        var charts: [Chart] = []
        for (title, series) in [("Modelled on \(groups[0].config.execution.network ?? "?")", modelled), ("Measured on this machine", measured)] where !series.isEmpty {
            var c = LineChart(title: title, xLabel: "workers K", yLabel: "speedup over H=1", series: series, xScale: .log2)
            c.references = [("H=1 (mSGD)", 1)]
            charts.append(.line(c))
        }
        return .drawn(Figure(id: "fig03", title: "Fig. 3 — Normalised speedup over minibatch SGD",
                             caption: "Training time of minibatch SGD (or local SGD with H=1) at the same K divided by that of local (solid) and post-local (dashed) SGD: the gain from averaging every H steps. Modelled times as in Fig. 2 (typical compute plus modelled all-reduces); measured times are this machine's, where communication is an in-memory average. Medians over seeds.",
                             charts: charts))
    }
}
