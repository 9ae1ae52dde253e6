import Foundation

/// Figures 4–6 of the study: accuracy as workers K, local steps H and their product grow.
extension ReportFamily {
    private func accuracyVsWorkers(id: String, title: String, what: String, value: @escaping (RunRecord) -> Double?) -> FigureResult {
        var charts: [Chart] = []
        let minibatch = ReportFamily.minibatchLine(select("minibatch"), x: { Double($0.workers) }, value: value)
        for algorithm in ["local", "post-local"] {
            let groups = select(algorithm)
            guard ReportFamily.sortedUnique(groups.map(\.workers)).count >= 2 else { continue }
            var lines = ReportFamily.linesByH(groups, x: { Double($0.workers) }, value: value)
            if let minibatch { lines.append(minibatch) }
            let name = algorithm == "local" ? "Local SGD" : "Post-local SGD (T=\(SVG.label(primarySwitch ?? 0)))"
            charts.append(.line(LineChart(title: name, xLabel: "workers K", yLabel: "\(what) accuracy (%)", series: lines, xScale: .log2)))
        }
        guard !charts.isEmpty else { return .skipped("needs local or post-local runs at two or more values of K") }
        return .drawn(Figure(id: id, title: title,
                             caption: "Final \(what) accuracy of the averaged model against the number of workers, one line per number of local steps H, median over seeds with min–max bars; mSGD is minibatch SGD. Schedule: \(primarySchedule)."
                                + (what == "training" ? " Training accuracy is measured on the training batches during the last epoch." : ""),
                             charts: charts))
    }

    func figure4() -> FigureResult {
        accuracyVsWorkers(id: "fig04", title: "Fig. 4 — Training accuracy vs workers", what: "training", value: Quantity.trainAccuracy)
    }

    func figure5() -> FigureResult {
        accuracyVsWorkers(id: "fig05", title: "Fig. 5 — Validation accuracy vs workers", what: "validation", value: Quantity.testAccuracy)
    }

    func figure6() -> FigureResult {
        var charts: [Chart] = []
        let minibatch = ReportFamily.minibatchLine(select("minibatch"), x: { Double($0.workers) }, value: Quantity.testAccuracy)
        for algorithm in ["local", "post-local"] {
            let groups = select(algorithm)
            guard ReportFamily.sortedUnique(groups.map { $0.workers * $0.localSteps }).count >= 2 else { continue }
            var lines = ReportFamily.sortedUnique(groups.map(\.workers)).compactMap { k -> ChartSeries? in
                let points = groups.filter { $0.workers == k }.compactMap { g in
                    g.aggregate(Quantity.testAccuracy)?.point(x: Double(g.workers * g.localSteps))
                }
                return points.isEmpty ? nil : ChartSeries("K=\(k)", points.sorted { $0.x < $1.x })
            }
            if let minibatch { lines.append(minibatch) }
            let name = algorithm == "local" ? "Local SGD" : "Post-local SGD (T=\(SVG.label(primarySwitch ?? 0)))"
            charts.append(.line(LineChart(title: name, xLabel: "local model updates between averages K×H",
                                          yLabel: "validation accuracy (%)", series: lines, xScale: .log2)))
        }
        guard !charts.isEmpty else { return .skipped("needs local or post-local runs at two or more values of K×H") }
        return .drawn(Figure(id: "fig06", title: "Fig. 6 — Validation accuracy vs K×H",
                             caption: "Final validation accuracy against the number of local model updates between synchronizations, K×H, one line per K (median over seeds, min–max bars); mSGD is minibatch SGD plotted at K×1. If the lines fall on one curve, K×H is what sets the accuracy.",
                             charts: charts))
    }
}
