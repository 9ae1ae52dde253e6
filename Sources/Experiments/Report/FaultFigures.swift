import Algorithms
import Config
import Foundation
import Training

/// The faults figure: what a lost worker or a straggler (`--faults`, `--worker-speeds`) costs
/// each algorithm in accuracy and modelled wall-clock, against the same run without them.
extension ReportFamily {
    /// How `config`'s workers misbehave, as a legend says it: "fault-free", "faults leave:15@105",
    /// "speeds w15×0.5" (the workers not at 1) or "speeds lognormal:0.3", with ", DyLU" when
    /// their local steps follow their speeds (`--dynamic-local-steps`).
    static func scenario(_ config: RunConfig) -> String {
        var parts: [String] = []
        if let faults = config.execution.faults, !faults.isEmpty { parts.append("faults \(faults)") }
        if let speeds = config.execution.workerSpeeds, !speeds.isEmpty {
            let values = speeds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let slow = values.enumerated().filter { Double($0.element) != 1 }.map { "w\($0.offset)×\($0.element)" }
            parts.append("speeds " + (speeds.hasPrefix("lognormal") || slow.count > 4 ? speeds : slow.joined(separator: ",")))
        }
        if config.algorithm.dynamicLocalSteps { parts.append("DyLU") }
        return parts.isEmpty ? "fault-free" : parts.joined(separator: ", ")
    }

    /// `config` without faults or speeds (nor DyLU, which follows them): its fault-free counterpart.
    static func faultFree(_ config: RunConfig) -> RunConfig {
        var c = config
        c.execution.faults = nil
        c.execution.workerSpeeds = nil
        c.algorithm.dynamicLocalSteps = false
        return c
    }

    func faultFigure() -> FigureResult {
        let faulty = groups.filter { ReportFamily.scenario($0.config) != "fault-free" }
        // In the CLI's order of algorithms (minibatch, local, …, async), then by H.
        let order = AlgorithmKind.allCases
        let bases = groups.filter { g in
            ReportFamily.scenario(g.config) == "fault-free" && faulty.contains { ReportFamily.faultFree($0.config) == g.config }
        }.sorted { a, b in
            (order.firstIndex(of: a.config.algorithm.kind) ?? order.count, a.localSteps, a.label)
                < (order.firstIndex(of: b.config.algorithm.kind) ?? order.count, b.localSteps, b.label)
        }
        guard !bases.isEmpty else {
            return .skipped("needs runs with --faults or --worker-speeds and the same runs without them")
        }
        let scenarios = ["fault-free"] + ReportFamily.mostCommonFirst(faulty.map { ReportFamily.scenario($0.config) })
        func series(_ value: (RunRecord) -> Double?) -> [BarSeries] {
            scenarios.map { name in
                let values = bases.map { base -> Aggregate? in
                    let group = name == "fault-free" ? base
                        : faulty.first { ReportFamily.faultFree($0.config) == base.config && ReportFamily.scenario($0.config) == name }
                    return group?.aggregate(value)
                }
                return BarSeries(name, values.map { $0?.median }, ranges: values.map { $0.map { ($0.min, $0.max) } })
            }
        }
        func chart(_ title: String, _ y: String, _ value: @escaping (RunRecord) -> Double?, zeroBased: Bool) -> Chart {
            var c = BarChart(title: title, xLabel: "algorithm", yLabel: y, categories: bases.map(\.label), series: series(value), mode: .grouped)
            c.zeroBased = zeroBased
            c.frame.height = 420
            c.frame.bottom = 140
            return .bar(c)
        }
        return .drawn(Figure(
            id: "faults", title: "Faults — Accuracy and modelled time with a lost worker or a straggler",
            caption: "Each algorithm fault-free and in each scenario of the runs: a worker that leaves (--faults; it computes nothing and sits out every average, which divides by the workers present; its shard is skipped) or a slow worker (--worker-speeds; lockstep algorithms wait for the slowest present worker at every synchronization; async does not wait at its averages, but each node has its own share of the data, so the run ends when the slow node has done its share; with DyLU, --dynamic-local-steps, each worker takes local steps in proportion to its speed, so the periods wait for no one). Final validation accuracy of the averaged model (the axis does not start at zero) and modelled training seconds on the run's network, one worker's compute per iteration (measured on this machine, or --modelled-compute) divided by the worker's speed; median over seeds with min–max bars.",
            charts: [chart("Validation accuracy", "validation accuracy (%)", Quantity.testAccuracy, zeroBased: false),
                     chart("Modelled training time", "modelled seconds", Quantity.modelledSeconds, zeroBased: true)]))
    }

    /// Distinct `values`, the most frequent first (ties in order of appearance).
    static func mostCommonFirst(_ values: [String]) -> [String] {
        var counts: [String: Int] = [:], order: [String] = []
        for v in values {
            if counts[v] == nil { order.append(v) }
            counts[v, default: 0] += 1
        }
        return order.enumerated().sorted { (counts[$0.element]!, -$0.offset) > (counts[$1.element]!, -$1.offset) }.map(\.element)
    }
}
