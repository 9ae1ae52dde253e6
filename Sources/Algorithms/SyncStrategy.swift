import Comm
import Tensor

/// What one iteration synchronizes, as a strategy plans it (its policy), before anything runs.
/// The driver reads it to fuse arithmetic into the optimizer's pass (`SyncFusion`); the strategy's
/// hooks then carry it out.
public enum SyncPlan: Equatable, Sendable {
    /// Nothing is communicated.
    case none
    /// All K workers' gradients are reduced after the backward pass (Algorithm 1): every worker
    /// then steps on their mean.
    case reduceGradients
    /// After the optimizer step the weights are averaged inside groups of `groupSize` consecutive
    /// workers (Algorithm 2 and its hierarchical form); `global` when the group is all K workers.
    case averageWeights(groupSize: Int, global: Bool)
    /// After the optimizer step, copies of some fragments of the weights are averaged across all
    /// workers (Streaming DiLoCo); the weights themselves change only when a result is applied,
    /// so the optimizer pass absorbs nothing.
    case averageFragments
}

/// How the optimizer pass of one iteration absorbs the plan's arithmetic, so that no
/// synchronization needs a pass of its own over a buffer. The driver decides (`init(plan:)`), the
/// strategy's communication follows it (`SyncContext.reduceGradients()`,
/// `SyncContext.averageWeights(groupSize:)`).
public struct SyncFusion: Equatable, Sendable {
    /// What the optimizer divides the gradients by: K when they arrive as a plain sum of K.
    public var gradientDivisor: Float = 1
    /// The factor the optimizer applies to the new weights: 1/G when G weights are then summed.
    public var parameterScale: Float = 1

    /// No fusion: every reduction takes its own mean.
    public init() {}

    /// The fusion the in-process trainer applies to `plan` over K = `workers` workers: a gradient
    /// reduction travels as a sum and the optimizer divides by K (bitwise the mean); an average
    /// of groups of G > 1, G a power of two (`Float.exactReciprocal`), has the optimizer scale the
    /// weights by 1/G and travels as a sum (bitwise the mean, barring subnormal results).
    public init(plan: SyncPlan, workers: Int) {
        switch plan {
        case .none, .averageFragments: break
        case .reduceGradients: gradientDivisor = Float(workers)
        case .averageWeights(let g, _):
            if g > 1, let r = Float(g).exactReciprocal { parameterScale = r }
        }
    }
}

/// Everything a strategy may act on at one iteration.
public struct SyncContext {
    /// 0-based global iteration; the paper's t is `step + 1`.
    public var step: Int
    /// γ(t), the learning rate of this iteration.
    public var learningRate: Float
    public var workers: WorkerSet
    public var communicator: Communicator
    /// What the optimizer pass of this iteration does (`SyncFusion()`, nothing, by default).
    public var fusion: SyncFusion
    /// `--compress`: gradients, weight deltas and pseudo-gradients travel encoded through it;
    /// nil sends Floats. The trainer never fuses (`SyncFusion()`) when compressing.
    public var compression: PayloadCompressor?
    /// Set by an outer optimizer that has already exchanged this iteration's weights (as
    /// pseudo-gradients): the averaging then applies only its BatchNorm and momentum policies.
    public var weightsExchanged = false
    /// The record of synchronizations (`syncs.jsonl`), if the run keeps one.
    public var recorder: SyncRecorder?

    public init(step: Int, learningRate: Float, workers: WorkerSet, communicator: Communicator,
                fusion: SyncFusion = SyncFusion(), compression: PayloadCompressor? = nil, recorder: SyncRecorder? = nil) {
        self.step = step
        self.learningRate = learningRate
        self.workers = workers
        self.communicator = communicator
        self.fusion = fusion
        self.compression = compression
        self.recorder = recorder
    }

    /// True when the gradient all-reduce travels as a plain sum (the optimizer divides by K).
    public var gradientsTravelAsSum: Bool {
        compression == nil && fusion.gradientDivisor == Float(communicator.workers) && communicator.workers > 1
    }

    /// True when the average of groups of `groupSize` travels as a plain sum (the optimizer
    /// already scaled the weights by 1/G).
    public func weightsTravelAsSum(groupSize: Int) -> Bool {
        compression == nil && groupSize > 1 && fusion.parameterScale == 1 / Float(groupSize)
    }

    /// All-reduces the K workers' gradients: compressed when `compression` is set, a plain sum
    /// when the optimizer divides by K (`fusion.gradientDivisor`), else the mean.
    public func reduceGradients() throws {
        let w = workers, comm = communicator
        if let compression {
            try compression.allReduce(w.gradients, groupSize: comm.workers, stream: .gradients, communicator: comm)
        } else if gradientsTravelAsSum {
            try comm.allReduceSum(w.gradients, count: w.parameterCount)
        } else {
            try comm.allReduceMean(w.gradients, count: w.parameterCount)
        }
    }

    /// Averages the weights inside groups of `groupSize`: as compressed deltas from the anchors
    /// when `compression` is set (`PayloadCompressor.averageWeights`), a plain sum when the
    /// optimizer already scaled them by 1/G (`fusion.parameterScale`), else the mean.
    public func averageWeights(groupSize: Int) throws {
        let w = workers, comm = communicator
        if let compression {
            try compression.averageWeights(w.parameters, groupSize: groupSize, communicator: comm)
        } else if weightsTravelAsSum(groupSize: groupSize) {
            try comm.allReduceSum(w.parameters, count: w.parameterCount, groupSize: groupSize)
        } else {
            try comm.allReduceMean(w.parameters, count: w.parameterCount, groupSize: groupSize)
        }
    }
}

/// A strategy's counters and buffers, for checkpoints (forgetting a strategy's
/// counter on resume was a real bug elsewhere).
public struct StrategyState: Codable, Equatable, Sendable {
    public var syncs: Int = 0
    public var gradientReductions: Int = 0
    /// The iteration of the last global weight average (`PeriodicAveraging`), an exact integer.
    /// Checkpoints before it kept this as `buffers["lastGlobalAverageStep"]`, a Float.
    public var lastGlobalAverageStep: Int?
    /// Named flat buffers (SlowMo's u and x₀).
    public var buffers: [String: [Float]] = [:]
    /// Named exact integers (an outer Adam's step count); nil in checkpoints that have none.
    public var counters: [String: Int]? = nil
    public init() {}
}

/// A synchronization strategy: a pure plan per iteration (`plan(step:workers:)`) and hooks the
/// training loop calls at fixed points of every iteration to carry it out. The loop does not
/// know which strategy runs. A new strategy is one file with a type conforming to this (declaring its
/// `AlgorithmKind` name and builder), one line in `AlgorithmKind.registry`, and its test.
public protocol SyncStrategy: AnyObject {
    /// What iteration `step` (0-based) synchronizes over K = `workers` workers; depends only on
    /// its arguments and the strategy's settings, never on its mutable state.
    func plan(step: Int, workers: Int) -> SyncPlan
    /// After every worker's backward pass, before the optimizer step (minibatch reduces gradients here).
    func afterBackward(_ context: SyncContext) throws
    /// After every worker's optimizer step (local SGD averages weights here).
    func afterStep(_ context: SyncContext) throws
    /// Weight averagings, plus gradient all-reduces for minibatch phases.
    var syncs: Int { get }
    func saveState() -> StrategyState
    func restoreState(_ state: StrategyState) throws
    /// Iterations of compute a collective started by `afterStep` may hide behind before its
    /// result is needed (Streaming DiLoCo's τ); 0: every collective blocks. The modelled
    /// wall-clock credits the overlap.
    var overlapSteps: Int { get }
    /// Allocates what the hooks need for `localWorkers` workers in this process, before the
    /// first iteration, so that no iteration allocates.
    func prepare(localWorkers: Int)
}

extension SyncStrategy {
    public var overlapSteps: Int { 0 }
    public func prepare(localWorkers: Int) {}
}

extension SyncStrategy {
    /// The payloads a compressed run of this strategy sends (each keeps its own error-feedback
    /// residuals; weight deltas need anchors).
    public var payloadStreams: Set<PayloadStream> {
        switch self {
        case is MinibatchSGD: return [.gradients]
        case is PeriodicAveraging: return [.weights]
        case let s as PostLocalSGD: return s.switchStep > 0 ? [.gradients, .weights] : [.weights]
        case let s as OuterOptimization:
            var streams: Set<PayloadStream> = [.pseudoGradient]
            if s.inner.switchStep > 0 { streams.insert(.gradients) }
            if s.inner.averaging.levels.count > 1 { streams.insert(.weights) }
            return streams
        default: return [.gradients, .weights, .pseudoGradient]
        }
    }

    /// When the local phase averages under a `--local-steps` schedule or QSR; nil when H is constant.
    public var averagingSchedule: AveragingSchedule? {
        switch self {
        case let s as PeriodicAveraging: return s.averagingSchedule
        case let s as PostLocalSGD: return s.averaging.averagingSchedule
        case let s as OuterOptimization: return s.inner.averaging.averagingSchedule
        default: return nil
        }
    }

    /// The group sizes at which the strategy averages weights, innermost first; none for minibatch.
    public var averagingGroupSizes: [Int] {
        switch self {
        case let s as PeriodicAveraging: return s.levels.map(\.groupSize)
        case let s as PostLocalSGD: return s.averaging.levels.map(\.groupSize)
        case let s as OuterOptimization: return s.inner.averaging.levels.map(\.groupSize)
        default: return []
        }
    }
}

/// A checkpointed strategy state that does not fit this strategy.
public struct StrategyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
