import Comm
import Config
import Foundation
import Training

/// Groups of one experiment family (same model, data, epochs and recipe), and the choices the
/// figures share: which schedule and switching point stand for "the" local and post-local runs.
public struct ReportFamily: Sendable {
    public var title: String
    public var groups: [RunGroup]
    public var figures: [Figure] = []
    public var skipped: [SkippedFigure] = []

    init(groups: [RunGroup]) {
        self.groups = groups
        let c = groups[0].config
        title = "\(c.model.kind.rawValue) on \(c.data.dataset.rawValue), \(c.schedule.epochs) epoch\(c.schedule.epochs == 1 ? "" : "s"), B=\(c.schedule.batchSize)"
            + (c.execution.network.map { ", network \($0)" } ?? "")
    }

    var model: String { groups[0].config.model.kind.rawValue }

    /// The schedule most groups use (ties: the first seen); figures 2–6 use it.
    var primarySchedule: String { Self.mostCommon(groups.map(\.schedule)) ?? "cosine" }

    /// The switching point most post-local groups of the primary schedule use.
    var primarySwitch: Double? {
        Self.mostCommon(groups.filter { $0.algorithm == "post-local" && $0.schedule == primarySchedule }.compactMap(\.switchEpoch))
    }

    static func mostCommon<T: Hashable>(_ values: [T]) -> T? {
        var counts: [T: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        return values.first { counts[$0] == counts.values.max() }
    }

    /// Groups of `algorithm` with `schedule` (default: the primary one); post-local ones at the
    /// primary switching point.
    /// Only groups of the family's base variant (`RunGroup.variant`: the plain recipe when the
    /// family has it), so that a codec, QSR, streaming or momentum-policy run never joins the
    /// paper figures' lines of plain runs.
    func select(_ algorithm: String, schedule: String? = nil) -> [RunGroup] {
        let s = schedule ?? primarySchedule, base = baseVariant
        return groups.filter { g in
            g.algorithm == algorithm && g.schedule == s && g.variant == base && (algorithm != "post-local" || g.switchEpoch == primarySwitch)
        }
    }

    /// The variant the paper's figures show: the plain recipe if any group runs it, else the
    /// most common one.
    var baseVariant: String {
        let variants = groups.map(\.variant)
        return variants.contains("") ? "" : Self.mostCommon(variants) ?? ""
    }

    /// The minibatch baseline at K (schedule as above), else local SGD with H = 1.
    func baseline(workers: Int, schedule: String? = nil) -> RunGroup? {
        select("minibatch", schedule: schedule).first { $0.workers == workers }
            ?? select("local", schedule: schedule).first { $0.workers == workers && $0.localSteps == 1 }
    }

    /// One worker's compute per iteration in each part (data, forward, backward, optimizer),
    /// median over every run of the family: the work per iteration is the same in all of them
    /// (same model and batch), so the median removes the noise of a shared, loaded machine and
    /// leaves communication as the only difference between modelled runs.
    var typicalCompute: [Double]? {
        let runs = groups.flatMap(\.runs)
        let parts = Quantity.computeParts.map { part in Aggregate(runs.compactMap { Quantity.perWorkerPerIteration($0, part) })?.median }
        return parts.contains { $0 == nil } ? nil : parts.map { $0! }
    }

    /// Training seconds of `r` on its network with the family's typical compute:
    /// steps × (compute + modelled communication per iteration).
    func modelledWithTypicalCompute(_ r: RunRecord) -> Double? {
        guard let compute = typicalCompute?.reduce(0, +), let s = r.summary,
              let communication = Quantity.modelledCommunicationPerIteration(r) else { return nil }
        return Double(s.steps) * (compute + communication)
    }

    static func sortedUnique<T: Comparable & Hashable>(_ values: [T]) -> [T] { Array(Set(values)).sorted() }

    /// One line per H of `groups`, x from `x`, y aggregated over seeds by `value`.
    static func linesByH(_ groups: [RunGroup], prefix: String = "H=", dashed: Bool = false,
                         x: (RunGroup) -> Double, value: (RunRecord) -> Double?) -> [ChartSeries] {
        sortedUnique(groups.map(\.localSteps)).compactMap { h in
            let points = groups.filter { $0.localSteps == h }.compactMap { g in g.aggregate(value)?.point(x: x(g)) }
            return points.isEmpty ? nil : ChartSeries("\(prefix)\(h)", points.sorted { $0.x < $1.x }, dashed: dashed)
        }
    }

    /// The minibatch groups as one line.
    static func minibatchLine(_ groups: [RunGroup], x: (RunGroup) -> Double, value: (RunRecord) -> Double?) -> ChartSeries? {
        let points = groups.compactMap { g in g.aggregate(value)?.point(x: x(g)) }.sorted { $0.x < $1.x }
        return points.isEmpty ? nil : ChartSeries("mSGD", points, dashed: true)
    }
}

/// Numbers of a run the figures plot (accuracies and errors in percent).
enum Quantity {
    static func testAccuracy(_ r: RunRecord) -> Double? { r.summary.map { 100 * $0.testAccuracy } }
    static func trainAccuracy(_ r: RunRecord) -> Double? { r.summary.map { 100 * $0.trainAccuracy } }
    static func trainLoss(_ r: RunRecord) -> Double? { r.summary?.trainLoss }
    static func testLoss(_ r: RunRecord) -> Double? { r.summary?.testLoss }
    /// Measured training seconds (evaluation excluded) on this machine, all K workers simulated.
    static func measuredSeconds(_ r: RunRecord) -> Double? { r.summary?.time.training }
    /// Training seconds on the run's network model with one worker per machine.
    static func modelledSeconds(_ r: RunRecord) -> Double? { r.summary?.modelledSeconds }

    static let computeParts: [KeyPath<TimeBreakdown, Double>] = [\.data, \.forward, \.backward, \.optimizer]

    /// One worker's measured seconds per iteration in one part of the compute.
    static func perWorkerPerIteration(_ r: RunRecord, _ part: KeyPath<TimeBreakdown, Double>) -> Double? {
        guard let s = r.summary, s.steps > 0 else { return nil }
        return s.time[keyPath: part] / Double(s.steps) * perWorker(r)
    }

    /// Per-worker share of measured work: K simulated replicas ran on min(threads, K) threads.
    static func perWorker(_ r: RunRecord) -> Double {
        Double(max(1, min(r.config.execution.threads, r.config.algorithm.workers))) / Double(r.config.algorithm.workers)
    }

    /// Modelled communication seconds per iteration: the run's own `modelled_communication` when
    /// it recorded one; for older runs the recorded synchronizations, each an
    /// all-reduce of the recorded bytes per sync among all K workers on the run's network. For
    /// hierarchical runs (several group sizes) it is what remains of the modelled time after
    /// the per-worker compute.
    static func modelledCommunicationPerIteration(_ r: RunRecord) -> Double? {
        guard let s = r.summary, s.steps > 0, let text = r.config.execution.network, let network = try? NetworkModel(parsing: text) else { return nil }
        // Runs that recorded their modelled collectives (any codec, level or overlap) say it themselves.
        if let recorded = s.modelledCommunication { return recorded / Double(s.steps) }
        if r.config.algorithm.kind == .hierarchical {
            guard let modelled = s.modelledSeconds else { return nil }
            let compute = (s.time.data + s.time.forward + s.time.backward + s.time.optimizer) * perWorker(r)
            return max(0, modelled - compute) / Double(s.steps)
        }
        guard s.syncs > 0 else { return 0 }
        let bytes = s.bytesCommunicated / s.syncs
        return Double(s.syncs) * network.allReduceSeconds(bytes: bytes, workers: r.config.algorithm.workers, groupSize: r.config.algorithm.workers) / Double(s.steps)
    }
}
