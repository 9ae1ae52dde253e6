import Algorithms
import Config
import Foundation
import Training

/// Fig. 10 of the study (SlowMo) and the convex check of Stich's local-SGD analysis.
extension ReportFamily {
    /// The local or post-local group that `slowmo` adds slow momentum to: the same config
    /// once the algorithm and SlowMo's own settings are set aside.
    func withoutSlowMo(_ slowmo: RunGroup) -> RunGroup? {
        func plain(_ c: RunConfig) -> RunConfig {
            var c = c
            c.algorithm.kind = .local
            c.algorithm.slowmoLr = 1
            c.algorithm.slowmoMomentum = 0.5
            c.algorithm.slowmoNesterov = false
            return c
        }
        let target = plain(slowmo.config)
        return groups.first { ($0.algorithm == "local" || $0.algorithm == "post-local") && plain($0.config) == target }
    }

    func figure10() -> FigureResult {
        let pairs = groups.filter { $0.algorithm == "slowmo" }.compactMap { s in withoutSlowMo(s).map { (base: $0, slowmo: s) } }
        guard !pairs.isEmpty else {
            return .skipped("needs SlowMo runs (algorithm slowmo) and the same local or post-local runs without it")
        }
        // One group of bars per baseline, one bar per SlowMo setting (α, β, Nesterov) beside it;
        // local before post-local, and within each the base-momentum policies in their declared
        // order (kept, reset, averaged).
        func policy(_ g: RunGroup) -> Int { MomentumSync.allCases.firstIndex(of: g.config.algorithm.momentumSync) ?? 0 }
        let bases = pairs.map(\.base)
            .sorted { ($0.algorithm, $0.switchEpoch ?? -1, policy($0)) < ($1.algorithm, $1.switchEpoch ?? -1, policy($1)) }
            .map(\.label).uniqued()
        func setting(_ g: RunGroup) -> String {
            let a = g.config.algorithm
            return "SlowMo α=\(SVG.label(Double(a.slowmoLr))) β=\(SVG.label(Double(a.slowmoMomentum)))" + (a.slowmoNesterov ? " Nesterov" : "")
        }
        let settings = pairs.map { setting($0.slowmo) }.uniqued().sorted()
        func bars(_ name: String, _ group: (String) -> RunGroup?) -> BarSeries {
            let values: [Aggregate?] = bases.map { group($0).flatMap { $0.aggregate(Quantity.testAccuracy) } }
            return BarSeries(name, values.map { $0?.median }, ranges: values.map { v in v.map { ($0.min, $0.max) } })
        }
        var series = [bars("without SlowMo") { b in pairs.first { $0.base.label == b }?.base }]
        for s in settings {
            series.append(bars(s) { b in pairs.first { $0.base.label == b && setting($0.slowmo) == s }?.slowmo })
        }
        let schedules = Dictionary(pairs.map { ($0.base.label, $0.base.schedule) }) { a, _ in a }
        // What every setting shares (K, H, the schedule) goes to the title; the bars' labels keep
        // what tells them apart, short enough to read.
        // The first word, the algorithm, always stays.
        let words = bases.map { "\($0) \(schedules[$0] ?? "")".split(separator: " ").map(String.init) }
        let shared = words.count > 1 ? words.dropFirst().reduce(Set(words[0].dropFirst())) { $0.intersection($1.dropFirst()) } : []
        let categories = words.map { w in ([w[0]] + w.dropFirst().filter { !shared.contains($0) }).joined(separator: " ") }
        let common = words[0].dropFirst().filter(shared.contains).joined(separator: " ")
        var chart = BarChart(title: "With and without slow momentum" + (common.isEmpty ? "" : " (\(common))"), xLabel: "setting",
                             yLabel: "validation accuracy (%)", categories: categories, series: series, mode: .grouped)
        chart.zeroBased = false
        // Room for the labels, drawn at −30°: about 6.2 px a character at their size.
        let longest = Double(categories.map(\.count).max() ?? 0) * 6.2
        let slot = (chart.frame.width - chart.frame.left - chart.frame.right) / Double(max(1, categories.count))
        chart.frame.left = max(chart.frame.left, Double(categories.first?.count ?? 0) * 6.2 * 0.87 - slot / 2 + 12)
        chart.frame.bottom = max(chart.frame.bottom, longest * 0.5 + 48)
        chart.frame.height = 300 + chart.frame.bottom
        return .drawn(Figure(id: "fig10", title: "Fig. 10 — SlowMo vs none",
                             caption: "Final validation accuracy of local and post-local SGD with and without the slow-momentum step at each average (no extra communication), one bar per SlowMo setting beside its baseline (the same run without it, under the same base-momentum policy), median over seeds with min–max bars. The axis does not start at zero.",
                             charts: [.bar(chart)]))
    }

    func convexLossVsWorkers() -> FigureResult {
        let groups = select("local") + select("minibatch")
        guard model == "logreg", ReportFamily.sortedUnique(groups.map(\.workers)).count >= 2 else {
            return .skipped(model == "logreg" ? "needs local or minibatch runs at two or more values of K" : "only for the convex model (logreg)")
        }
        var charts: [Chart] = []
        for (label, value) in [("training loss (last epoch)", Quantity.trainLoss), ("validation loss (averaged model)", Quantity.testLoss)] {
            var lines = ReportFamily.linesByH(select("local"), prefix: "local H=", x: { Double($0.workers) }, value: value)
            if let m = ReportFamily.minibatchLine(select("minibatch"), x: { Double($0.workers) }, value: value) { lines.insert(m, at: 0) }
            charts.append(.line(LineChart(title: label.capitalizedFirst, xLabel: "workers K", yLabel: "loss", series: lines, xScale: .log2)))
        }
        let steps = ReportFamily.sortedUnique(groups.map(\.workers)).compactMap { k in
            groups.first { $0.workers == k }?.runs.first?.summary.map { "K=\(k): \($0.steps)" }
        }.joined(separator: ", ")
        return .drawn(Figure(id: "convex1", title: "Convex — Loss vs workers at equal gradient evaluations",
                             caption: "Logistic regression, every run computing the same number of stochastic gradients (\(groups[0].config.schedule.epochs) epochs of the data) split over K workers, so each worker takes K times fewer steps (iterations per worker: \(steps)). Linear speedup in K, as Stich's analysis predicts for local SGD, means a flat line: the same loss in K times fewer iterations.",
                             charts: charts))
    }

    func convexLossVsRounds() -> FigureResult {
        let pool = select("local") + select("minibatch")
        func h(_ g: RunGroup) -> Int { g.algorithm == "minibatch" ? 1 : g.localSteps }
        let ks = ReportFamily.sortedUnique(pool.filter { $0.workers > 1 }.map(\.workers)).filter { k in
            Set(pool.filter { $0.workers == k }.map(h)).count >= 2
        }
        guard model == "logreg", !ks.isEmpty else {
            return .skipped(model == "logreg" ? "needs two or more of minibatch and local runs with different H at one K > 1" : "only for the convex model (logreg)")
        }
        // Final loss against the rounds the run used, one line per K (its points are the values of H).
        let final = ks.map { k in
            ChartSeries("K=\(k)", pool.filter { $0.workers == k }.compactMap { g -> ChartPoint? in
                guard let rounds = g.runs.first?.summary?.syncs, rounds > 0 else { return nil }
                return g.aggregate(Quantity.testLoss)?.point(x: Double(rounds))
            }.sorted { $0.x < $1.x })
        }
        // Loss after each epoch against the rounds so far, at the middle K.
        let k = ks[ks.count / 2]
        let chosen = pool.filter { $0.workers == k }.sorted { h($0) < h($1) }
        let curves = chosen.map { g -> ChartSeries in
            let runs = g.runs
            let epochs = runs.map(\.metrics.count).min() ?? 0
            let points = (0..<epochs).compactMap { e -> ChartPoint? in
                let rounds = Double(runs[0].metrics[...e].map(\.syncs).reduce(0, +))
                return rounds > 0 ? Aggregate(runs.map { $0.metrics[e].testLoss })?.point(x: rounds) : nil
            }
            return ChartSeries(g.algorithm == "minibatch" ? "mSGD" : "local H=\(g.localSteps)", points, dashed: g.algorithm == "minibatch")
        }
        return .drawn(Figure(id: "convex2", title: "Convex — Loss vs communication rounds",
                             caption: "Validation loss of the averaged logistic-regression model against synchronizations. First chart: the final loss of every run against the rounds it used, one line per K, whose points are minibatch SGD (most rounds) and local SGD with growing H (H times fewer rounds). Second chart: the loss after each epoch against the rounds so far at K=\(k). Stich's analysis says local SGD reaches a similar loss with far fewer rounds; a flat line in the first chart is that.",
                             charts: [.line(LineChart(title: "Final loss, one line per K", xLabel: "communication rounds", yLabel: "validation loss", series: final, xScale: .log2)),
                                      .line(LineChart(title: "Per epoch, K=\(k)", xLabel: "communication rounds", yLabel: "validation loss", series: curves, xScale: .log2))]))
    }
}
