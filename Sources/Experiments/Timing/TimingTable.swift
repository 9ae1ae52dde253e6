import Comm
import Foundation

/// The network model without training: modelled time per iteration of K workers that average
/// every H steps, t(K, H) = compute + allReduce(model bytes, K)/H, the share of it spent
/// communicating (the study's Fig. 1), and the speedups of Figs. 2–3.
public struct TimingRow: Equatable, Sendable {
    public var workers: Int
    public var localSteps: Int
    /// Seconds of one worker's forward, backward and optimizer step.
    public var computeSeconds: Double
    /// Seconds of one all-reduce of the whole model among the K workers.
    public var allReduceSeconds: Double
    /// allReduceSeconds / H.
    public var communicationSeconds: Double { allReduceSeconds / Double(localSteps) }
    /// t(K, H).
    public var iterationSeconds: Double { computeSeconds + communicationSeconds }
    /// The part of an iteration spent communicating.
    public var communicationShare: Double { communicationSeconds / iterationSeconds }
    /// Samples per second relative to one worker: K·t(1, 1)/t(K, H) (Fig. 2: time for a fixed
    /// number of epochs falls by this factor).
    public var speedup: Double
    /// t(K, 1)/t(K, H): the gain of averaging every H steps instead of every step (Fig. 3).
    public var normalisedSpeedup: Double
}

public struct TimingTable: Sendable {
    public var parameters: Int
    public var bytesPerParameter: Int
    public var computeSeconds: Double
    public var network: NetworkModel
    public var rows: [TimingRow]

    public static let defaultWorkers = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    public static let defaultLocalSteps = [1, 2, 4, 8, 16, 32]

    public init(parameters: Int, bytesPerParameter: Int = 4, computeSeconds: Double, network: NetworkModel,
                workers: [Int] = defaultWorkers, localSteps: [Int] = defaultLocalSteps) {
        self.parameters = parameters
        self.bytesPerParameter = bytesPerParameter
        self.computeSeconds = computeSeconds
        self.network = network
        let bytes = parameters * bytesPerParameter
        func allReduce(_ k: Int) -> Double { network.allReduceSeconds(bytes: bytes, workers: k, groupSize: k) }
        let single = computeSeconds + allReduce(1)
        rows = workers.flatMap { k in
            localSteps.map { h in
                let ar = allReduce(k)
                let t = computeSeconds + ar / Double(h)
                return TimingRow(workers: k, localSteps: h, computeSeconds: computeSeconds, allReduceSeconds: ar,
                                 speedup: Double(k) * single / t, normalisedSpeedup: (computeSeconds + ar) / t)
            }
        }
    }

    public static let csvHeader = "workers,local_steps,compute_ms,allreduce_ms,communication_ms_per_iteration,iteration_ms,communication_share,speedup,normalised_speedup"

    public var csv: String {
        var lines = [TimingTable.csvHeader]
        for r in rows {
            lines.append([String(r.workers), String(r.localSteps), CSV.number(r.computeSeconds * 1e3), CSV.number(r.allReduceSeconds * 1e3),
                          CSV.number(r.communicationSeconds * 1e3), CSV.number(r.iterationSeconds * 1e3),
                          CSV.number(r.communicationShare), CSV.number(r.speedup), CSV.number(r.normalisedSpeedup)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A fixed-width table for the terminal.
    public var text: String {
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        var lines = [[("K", 7), ("H", 4), ("compute ms", 11), ("comm ms/it", 11), ("iteration ms", 12), ("comm %", 7),
                      ("speedup", 9), ("vs H=1", 10)].map { pad($0.0, $0.1) }.joined(separator: " ")]
        for r in rows {
            lines.append(String(format: "%7d %4d %11.2f %11.2f %12.2f %6.1f%% %9.2f %10.2f", r.workers, r.localSteps,
                                r.computeSeconds * 1e3, r.communicationSeconds * 1e3, r.iterationSeconds * 1e3,
                                100 * r.communicationShare, r.speedup, r.normalisedSpeedup))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Three charts in one SVG: the time per iteration split into compute and communication
    /// (Fig. 1), the speedup over one worker (Fig. 2) and over H = 1 (Fig. 3).
    public var svg: String {
        let hs = Array(Set(rows.map(\.localSteps))).sorted(), ks = Array(Set(rows.map(\.workers))).sorted()
        let barHs = hs.count <= 3 ? hs : [hs[0], hs[hs.count / 2], hs[hs.count - 1]]
        let barRows = rows.filter { barHs.contains($0.localSteps) }
        let name = "\(SVG.label(Double(parameters) / 1e6))M parameters, \(SVG.label(computeSeconds * 1e3)) ms compute, \(network)"
        var bars = BarChart(title: "Time per iteration (\(name))", xLabel: "workers K, local steps H", yLabel: "ms per iteration",
                            categories: barRows.map { "K=\($0.workers) H=\($0.localSteps)" },
                            series: [BarSeries("compute", barRows.map { $0.computeSeconds * 1e3 }),
                                     BarSeries("communication", barRows.map { $0.communicationSeconds * 1e3 })], mode: .stacked)
        bars.frame.height = 400
        bars.frame.bottom = 96
        func lines(_ value: (TimingRow) -> Double) -> [ChartSeries] {
            hs.map { h in ChartSeries("H=\(h)", rows.filter { $0.localSteps == h }.map { ChartPoint(x: Double($0.workers), y: value($0)) }) }
        }
        let scale: Axis.Scale = ks.count > 1 && ks.allSatisfy({ $0 > 0 }) ? .log2 : .linear
        var share = LineChart(title: "Communication share of an iteration", xLabel: "workers K", yLabel: "communication share (%)",
                              series: lines { 100 * $0.communicationShare }, xScale: scale)
        share.yInclude = [0]
        var speedup = LineChart(title: "Speedup over one worker: K·t(1,1)/t(K,H)", xLabel: "workers K", yLabel: "speedup",
                                series: lines(\.speedup), xScale: scale)
        speedup.yInclude = [0]
        let normalised = LineChart(title: "Normalised speedup over H=1: t(K,1)/t(K,H)", xLabel: "workers K",
                                   yLabel: "speedup vs H=1", series: lines(\.normalisedSpeedup), xScale: scale)
        return SVG.stack([bars.render(), share.render(), speedup.render(), normalised.render()])
    }

    /// `25.6M`, `270k`, `1.2G` or a plain count.
    /// The largest model `parseCount` accepts (10¹² parameters; bytes times it cannot overflow).
    public static let maxParameters = 1_000_000_000_000

    public static func parseCount(_ text: String) -> Int? {
        let scales: [Character: Double] = ["k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9, "b": 1e9, "B": 1e9]
        var body = Substring(text.trimmingCharacters(in: .whitespaces)), scale = 1.0
        if let last = body.last, let s = scales[last] {
            scale = s
            body = body.dropLast()
        }
        guard let value = Double(body), value > 0, value * scale <= Double(maxParameters) else { return nil }
        return Int((value * scale).rounded())
    }
}
