import Comm
import Foundation
import Tensor

/// Records every synchronization of a lockstep run as a `SyncRecord` (`syncs.jsonl`).
///
/// The strategies call it around their collectives (`SyncContext.recorder`): before, it keeps a
/// copy of each local worker's vector (weights or gradients) and its distance to the group's
/// anchor; after, each worker's distance to the mean. These are one or two passes over the
/// buffers per synchronization, none at iterations without one, in preallocated buffers. The
/// partial sums wait per process until `collect`, which gathers them in worker order (outside the
/// training traffic) and turns them into records, so a run gives the same records in-process and
/// over MPI (`SyncStatistics`).
///
/// Anchors: after an average every member of a group holds x̄, so one anchor per group is kept,
/// for the groups that have a worker in this process, per level of the hierarchy. A wider average
/// also renews the anchors of the narrower levels it covers. The first anchors are the weights at
/// the start of the first iteration that does not reduce gradients (all workers agree there).
///
/// Under `--faults` the strategy sees only the P present workers (`beginIteration`'s `present`)
/// and its global level is of P: a record is then over those P, the absent ones left out of
/// every sum. Streaming DiLoCo's fragments are recorded by `SyncRecorder+Fragments.swift`, each
/// against the strategy's own outer weights x₀,p.
public final class SyncRecorder {
    /// One level of averaging: groups of `groupSize`, their anchors (local groups in order).
    struct Level {
        var groupSize: Int
        /// Index of each local worker's group among `anchors`.
        var anchorOfWorker: [Int]
        var anchors: [FloatBuffer]
        var lastSyncStep: Int?
        var anchored: Bool
    }

    /// What a checkpoint keeps besides the anchors (`anchorBuffers()`).
    public struct State: Codable, Equatable, Sendable {
        public var lastSyncSteps: [Int?]
        public var anchored: [Bool]
        public var anchorsPending: Bool
        public var lastGradientStep: Int?
    }

    struct Pending {
        var step: Int
        var kind: SyncRecord.Kind
        var groupSize: Int
        var global: Bool
        /// Workers that took part, over all processes.
        var workers: Int
        /// This process's partial sums of it (one per local worker that took part).
        var partialCount: Int
        var bytes = 0
        var effectiveH: Int?
        var anchored: Bool
        var outerMomentumNorm: Double?
        var codecError: Double?
        var fragment: Int?
    }

    public let workers: Int
    public let localWorkers: Range<Int>
    public let count: Int
    public let stepsPerEpoch: Int
    var levels: [Level]
    private let snapshots: [FloatBuffer]
    var anchorsPending = true
    var lastGradientStep: Int?
    var pending: [Pending] = []
    /// Local workers' partial sums of each pending record, record after record.
    var partials: [SyncStatistics.Partial] = []
    private var bytesAtStart = 0
    var fragmentBytesAtStart = 0
    private var recordedThisIteration = false
    private var averagedGroupSize: Int?
    /// The local workers (0-based within this process) the strategy sees this iteration, in the
    /// order of its `WorkerSet`; nil: all of them.
    private var present: [Int]?

    /// K = `workers`, this process's `localWorkers`, vectors of `count` floats, the group sizes of
    /// the strategy's averaging levels (`SyncStrategy.averagingGroupSizes`); `mostRecords` bounds
    /// the synchronizations between two `collect`s, which come at least at every epoch end (by
    /// default one per iteration, and one more; Streaming DiLoCo's fragments may be more), so
    /// that recording never allocates.
    public init(workers: Int, localWorkers: Range<Int>, count: Int, stepsPerEpoch: Int, groupSizes: [Int],
                mostRecords: Int? = nil) {
        self.workers = workers
        self.localWorkers = localWorkers
        self.count = count
        self.stepsPerEpoch = stepsPerEpoch
        levels = groupSizes.sorted().map { g in
            let groups = (localWorkers.lowerBound / g)...((localWorkers.upperBound - 1) / g)
            return Level(groupSize: g, anchorOfWorker: localWorkers.map { $0 / g - groups.lowerBound },
                         anchors: groups.map { _ in FloatBuffer(count: count) }, lastSyncStep: nil, anchored: false)
        }
        snapshots = localWorkers.map { _ in FloatBuffer(count: count) }
        let most = mostRecords ?? stepsPerEpoch + 1
        pending.reserveCapacity(most)
        partials.reserveCapacity(most * localWorkers.count)
    }

    /// The group sizes of the levels whose anchors the record keeps, innermost first.
    public var groupSizes: [Int] { levels.map(\.groupSize) }

    // MARK: - Hooks of the training loop and the strategies

    /// Before the strategy's first hook of iteration `step`, whose plan is `plan`; `w` are the
    /// workers the strategy sees, `present` their indices among this process's workers when some
    /// are away (`--faults`; nil: all, in order).
    public func beginIteration(step: Int, plan: SyncPlan, workers w: WorkerSet, communicator: Communicator, present: [Int]? = nil) {
        bytesAtStart = communicator.counters.bytes
        recordedThisIteration = false
        averagedGroupSize = nil
        self.present = present
        guard anchorsPending, plan != .reduceGradients, !levels.isEmpty else { return }
        renewAnchors(upTo: workers, parameters: w.parameters, step: step - 1)
        anchorsPending = false
    }

    /// Before the gradients are all-reduced.
    public func willReduceGradients(_ c: SyncContext) {
        for (k, g) in c.workers.gradients.enumerated() { snapshots[k].pointer.update(from: g, count: count) }
    }

    /// After the gradients were all-reduced (a sum of the K, or P present, or the mean: `c.gradientsTravelAsSum`).
    public func didReduceGradients(_ c: SyncContext) {
        let taking = c.communicator.workers
        let divisor = c.gradientsTravelAsSum ? Double(taking) : 1
        let reduced = c.workers.gradients
        let meanNorm = SyncStatistics.squaredDistance(reduced[0], nil, count: count, scale: 1 / divisor)
        for k in reduced.indices {
            let g = UnsafePointer(snapshots[k].pointer)
            partials.append(.init(distanceToMean: SyncStatistics.squaredDistance(g, toSum: reduced[k], divisor: divisor, count: count),
                                  update: SyncStatistics.squaredDistance(g, nil, count: count), groupMeanUpdate: meanNorm))
        }
        pending.append(Pending(step: c.step, kind: .gradients, groupSize: taking, global: true, workers: taking,
                               partialCount: reduced.count, effectiveH: c.step - (lastGradientStep ?? c.step - 1), anchored: true))
        lastGradientStep = c.step
        recordedThisIteration = true
    }

    /// Before the weights are averaged in groups of `groupSize`.
    public func willAverage(_ c: SyncContext, groupSize: Int) {
        // Weights the optimizer scaled by 1/G are G times smaller than the worker's: exact, G a power of two.
        let scale: Float = c.weightsTravelAsSum(groupSize: groupSize) ? Float(groupSize) : 1
        for (k, x) in c.workers.parameters.enumerated() {
            let s = snapshots[k].pointer
            if scale == 1 { s.update(from: x, count: count) } else { for i in 0..<count { s[i] = scale * x[i] } }
        }
    }

    /// After the weights were averaged in groups of `groupSize`.
    public func didAverage(_ c: SyncContext, groupSize: Int) {
        guard let l = levels.firstIndex(where: { $0.groupSize == levelSize(groupSize, c) }) else { return }
        let level = levels[l], means = c.workers.parameters
        var group = -1, groupMeanUpdate = 0.0
        for k in means.indices {
            let a = level.anchorOfWorker[present?[k] ?? k]
            let snapshot = UnsafePointer(snapshots[k].pointer), anchor = UnsafePointer(level.anchors[a].pointer)
            if a != group {
                group = a
                groupMeanUpdate = level.anchored ? SyncStatistics.squaredDistance(means[k], anchor, count: count) : 0
            }
            partials.append(.init(distanceToMean: SyncStatistics.squaredDistance(snapshot, means[k], count: count),
                                  update: level.anchored ? SyncStatistics.squaredDistance(snapshot, anchor, count: count) : 0,
                                  groupMeanUpdate: groupMeanUpdate))
        }
        let global = groupSize == c.communicator.workers
        pending.append(Pending(step: c.step, kind: .weights, groupSize: groupSize, global: global,
                               workers: c.communicator.workers, partialCount: means.count,
                               effectiveH: level.lastSyncStep.map { c.step - $0 }, anchored: level.anchored))
        recordedThisIteration = true
        averagedGroupSize = level.groupSize
    }

    /// The size of the level a group of `groupSize` belongs to: the global level is all K
    /// workers even while only the P present average (`--faults`).
    private func levelSize(_ groupSize: Int, _ c: SyncContext) -> Int {
        groupSize == c.communicator.workers ? workers : groupSize
    }

    /// After an outer step on this iteration's global average; `momentum` is the outer
    /// optimizer's momentum buffer (`count` floats).
    public func didOuterStep(_ c: SyncContext, momentum: UnsafePointer<Float>) {
        guard recordedThisIteration, pending.last?.step == c.step else { return }
        pending[pending.count - 1].kind = .outer
        pending[pending.count - 1].outerMomentumNorm = SyncStatistics.squaredDistance(momentum, nil, count: count).squareRoot()
    }

    /// After the strategy's last hook of the iteration: the bytes of its collectives, and the
    /// anchors of an average (after an outer step, its result).
    public func endIteration(_ c: SyncContext) {
        guard recordedThisIteration else { return }
        pending[pending.count - 1].bytes = c.communicator.counters.bytes - bytesAtStart
        // Every payload of a compressed run goes through the codec; its last reduction is this sync's.
        pending[pending.count - 1].codecError = c.compression?.lastRelativeError
        if let g = averagedGroupSize { renewAnchors(upTo: g, parameters: c.workers.parameters, step: c.step) }
    }

    /// Every level of groups of at most `groupSize` takes its anchors from `parameters` (the
    /// present workers': a group with none keeps its anchor).
    private func renewAnchors(upTo groupSize: Int, parameters: [UnsafeMutablePointer<Float>], step: Int) {
        for l in levels.indices where levels[l].groupSize <= groupSize {
            var previous = -1
            for k in parameters.indices {
                let a = levels[l].anchorOfWorker[present?[k] ?? k]
                guard a != previous else { continue }
                levels[l].anchors[a].pointer.update(from: parameters[k], count: count)
                previous = a
            }
            levels[l].lastSyncStep = step
            levels[l].anchored = true
        }
    }
}
