import Config
import Foundation
import Training

/// Median, minimum and maximum of one quantity over the seeds of a group (§4 of the study
/// reports medians over runs).
public struct Aggregate: Equatable, Sendable {
    public var median: Double
    public var min: Double
    public var max: Double
    public var count: Int

    public init?(_ values: [Double]) {
        let v = values.filter { $0.isFinite }.sorted()
        guard !v.isEmpty else { return nil }
        median = v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
        min = v[0]
        max = v[v.count - 1]
        count = v.count
    }

    public func point(x: Double) -> ChartPoint { ChartPoint(x: x, y: median, low: min, high: max) }
}

/// Finished runs that differ only in their seed (and thread count, which does not change results).
public struct RunGroup: Sendable {
    /// The config with seed and threads cleared.
    public var config: RunConfig
    public var runs: [RunRecord]

    public var algorithm: String { config.algorithm.kind.rawValue }
    public var workers: Int { config.algorithm.workers }
    public var localSteps: Int { config.algorithm.localSteps }
    public var schedule: String { config.schedule.lrSchedule.rawValue }
    public var switchEpoch: Double? { runs.first?.switchEpoch }
    public var seeds: [UInt64] { runs.map(\.config.execution.seed).sorted() }

    /// The fields that say which experiment a run belongs to but are not the study's knobs;
    /// groups that agree on these are compared in one set of figures.
    public static let studyFields: Set<String> = [
        "algorithm", "workers", "local_steps", "switch_epoch", "switch_step", "lr_schedule", "slowmo_lr",
        "slowmo_momentum", "slowmo_nesterov", "group_size", "global_every", "seed", "threads", "decay_epochs",
        "outer_optimizer", "outer_lr", "outer_momentum", "outer_lr_schedule", "qsr_alpha",
        "compress", "compress_ratio", "error_feedback", "streaming_fragments", "streaming_overlap", "streaming_mix",
        "faults", "worker_speeds", "dynamic_local_steps", "momentum_sync",
        // async's own knobs, so that async runs share their lockstep peers' family
        "nodes", "threads_per_node", "average_every", "async_deterministic",
    ]

    /// Groups finished runs by config minus seed and threads, keeping the order of first appearance.
    public static func group(_ records: [RunRecord]) -> [RunGroup] {
        var groups: [RunGroup] = [], index: [Data: Int] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for record in records where record.finished {
            var key = record.config
            key.execution.seed = 0
            key.execution.threads = 1
            let data = (try? encoder.encode(key)) ?? Data()
            if let i = index[data] {
                groups[i].runs.append(record)
            } else {
                index[data] = groups.count
                groups.append(RunGroup(config: key, runs: [record]))
            }
        }
        return groups
    }

    /// One number of every run, aggregated over the group.
    public func aggregate(_ value: (RunRecord) -> Double?) -> Aggregate? {
        Aggregate(runs.compactMap(value))
    }

    /// The config as JSON fields (for family keys and labels).
    public var fields: [String: Any] {
        (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any]) ?? [:]
    }

    /// A key equal for groups of the same experiment family (same model, data, epochs, recipe).
    public var familyKey: String {
        let f = fields.filter { !RunGroup.studyFields.contains($0.key) }
        return f.keys.sorted().map { "\($0)=\(f[$0]!)" }.joined(separator: ";")
    }

    /// `local K=16 H=4`, `post-local K=16 H=4 T=1`, `minibatch K=16`, with SlowMo's β when set.
    public var label: String { RunGroup.label(config, switchEpoch: switchEpoch) }

    /// The label of a run of `config` switching at `switchEpoch` (in epochs).
    static func label(_ config: RunConfig, switchEpoch: Double?) -> String {
        let algorithm = config.algorithm.kind.rawValue
        var s = algorithm
        if config.algorithm.workers > 1 || algorithm == "minibatch" { s += " K=\(config.algorithm.workers)" }
        if algorithm != "minibatch" { s += " H=\(config.algorithm.localSteps)" }
        if let t = switchEpoch, algorithm != "minibatch" { s += " T=\(SVG.label(t))" }
        if algorithm == "slowmo" { s += " β=\(SVG.label(Double(config.algorithm.slowmoMomentum)))" }
        if algorithm == "diloco" {
            let a = config.algorithm, outer = a.dilocoOuterOptimizer
            s += " \(a.outerOptimizer.rawValue) η=\(SVG.label(Double(a.resolvedOuterLr))) μ=\(SVG.label(Double(outer.momentum)))"
            if a.outerLrSchedule != .constant { s += " \(a.outerLrSchedule.rawValue)" }
        }
        if algorithm == "async" { s = "async K=\(config.asyncWorkers) H=\(config.resolvedAverageEvery)" }
        return s + variant(config)
    }

    /// What sets a run apart from the study's plain recipe, as the end of its label: streaming
    /// fragments (` P=4 τ=2`), the synchronization schedule (` QSR α=0.1`, ` H schedule`), the
    /// codec (` int8`, ` top-k 1%+EF`), the base-momentum policy at averaging (` momentum reset`,
    /// ` momentum averaged`) and faults or stragglers (` (faults leave:15@87)`); empty for the
    /// plain recipe. The paper's figures compare runs of one variant (`ReportFamily.select`).
    static func variant(_ config: RunConfig) -> String {
        let a = config.algorithm
        var s = ""
        if a.isStreaming { s += " P=\(a.streamingFragments) τ=\(a.streamingOverlap)" }
        if let alpha = a.qsrAlpha { s += " QSR α=\(SVG.label(Double(alpha)))" } else if a.localStepsSchedule != nil { s += " H schedule" }
        if a.compress != .none {
            s += " " + (a.compress == .topk ? "top-k \(SVG.label(100 * a.compressRatio))%" : a.compress.rawValue)
            if a.errorFeedback { s += "+EF" }
        }
        switch a.momentumSync {
        case .local: break
        case .reset: s += " momentum reset"
        case .average: s += " momentum averaged"
        }
        let scenario = ReportFamily.scenario(config)
        if scenario != "fault-free" { s += " (\(scenario))" }
        return s
    }

    /// `variant(config)` of this group.
    public var variant: String { RunGroup.variant(config) }
}
