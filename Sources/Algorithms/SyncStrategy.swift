import Comm
import Tensor

/// Everything a strategy may act on at one iteration.
public struct SyncContext {
    /// 0-based global iteration; the paper's t is `step + 1`.
    public var step: Int
    /// γ(t), the learning rate of this iteration.
    public var learningRate: Float
    public var workers: WorkerSet
    public var communicator: Communicator
    /// The factor the optimizer step of this iteration applied to the new weights, as the
    /// strategy's `parameterScale(step:workers:)` asked (1 if the driver does not fold it).
    public var parameterScale: Float

    public init(step: Int, learningRate: Float, workers: WorkerSet, communicator: Communicator,
                parameterScale: Float = 1) {
        self.step = step
        self.learningRate = learningRate
        self.workers = workers
        self.communicator = communicator
        self.parameterScale = parameterScale
    }
}

/// A strategy's counters and buffers, for checkpoints (forgetting a strategy's
/// counter on resume was a real bug elsewhere).
public struct StrategyState: Codable, Equatable, Sendable {
    public var syncs: Int = 0
    public var gradientReductions: Int = 0
    /// Named flat buffers (SlowMo's u and x₀).
    public var buffers: [String: [Float]] = [:]
    public init() {}
}

/// A synchronization strategy: a small object with hooks the training loop calls at fixed
/// points of every iteration. The loop does not know which strategy runs.
public protocol SyncStrategy: AnyObject {
    /// After every worker's backward pass, before the optimizer step (minibatch reduces gradients here).
    func afterBackward(_ context: SyncContext) throws
    /// After every worker's optimizer step (local SGD averages weights here).
    func afterStep(_ context: SyncContext) throws
    /// Weight averagings, plus gradient all-reduces for minibatch phases.
    var syncs: Int { get }
    /// What the optimizer step of iteration `step` divides the gradients by: K when
    /// `afterBackward` all-reduces a sum of K gradients and leaves the mean to the optimizer's
    /// pass (no pass of its own over the buffer), else 1.
    func gradientDivisor(step: Int, workers: Int) -> Float
    /// The factor the optimizer step of iteration `step` may apply to the new weights: 1/G when
    /// `afterStep` will average groups of G (a power of two) and can then all-reduce a plain sum,
    /// else 1. A driver that applies it says so in `SyncContext.parameterScale`.
    func parameterScale(step: Int, workers: Int) -> Float
    func saveState() -> StrategyState
    func restoreState(_ state: StrategyState) throws
}

extension SyncStrategy {
    public func gradientDivisor(step: Int, workers: Int) -> Float { 1 }
    public func parameterScale(step: Int, workers: Int) -> Float { 1 }
}

/// A checkpointed strategy state that does not fit this strategy.
public struct StrategyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
