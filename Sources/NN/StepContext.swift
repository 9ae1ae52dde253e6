import Tensor

/// What one forward (and the backward that follows it) gives every layer besides its input and
/// the replica: training or evaluation, the step's random stream, and the lanes to split the
/// work over. A value type holding one reference, so passing it down the layers never allocates.
///
/// The random stream is (seed, epoch, worker, step), as for data augmentation but under
/// `Stream.layers`, so a layer's random numbers never share those of the batch and a model
/// without random layers draws nothing (its results are those of a network without contexts).
public struct StepContext {
    public enum Mode: Sendable { case training, evaluation }

    /// Training: BatchNorm uses and updates batch statistics, dropout drops. Evaluation: running
    /// statistics, dropout is the identity.
    public var mode: Mode
    /// Which step's random numbers the layers draw.
    public var seed: UInt64, epoch: UInt64, worker: UInt64, step: UInt64
    /// The lanes (threads) and per-lane scratch of the network running the layers; `Network`
    /// sets its own. Nil: the calling thread alone, for layers run outside a network (with no
    /// scratch, which Conv2d needs: give it one with `on(_:)`).
    public var workspace: Workspace?

    public init(mode: Mode, seed: UInt64 = 0, epoch: Int = 0, worker: Int = 0, step: Int = 0,
                workspace: Workspace? = nil) {
        self.mode = mode
        self.seed = seed
        self.epoch = UInt64(epoch)
        self.worker = UInt64(worker)
        self.step = UInt64(step)
        self.workspace = workspace
    }

    /// Training step `step` of `epoch` on `worker` (0-based), of the run seeded `seed`.
    public static func training(seed: UInt64, epoch: Int, worker: Int, step: Int) -> StepContext {
        StepContext(mode: .training, seed: seed, epoch: epoch, worker: worker, step: step)
    }

    /// Evaluation draws no random numbers, so it needs no step.
    public static let evaluation = StepContext(mode: .evaluation)

    public var isTraining: Bool { mode == .training }

    /// The same context on `workspace`'s lanes and scratch.
    public func on(_ workspace: Workspace) -> StepContext {
        var context = self
        context.workspace = workspace
        return context
    }

    /// The generator of block `block` of the random stream `stream` of one layer (Dropout: a
    /// hash of its name) at this step. Layers draw a fixed number of values per block of elements
    /// (whatever lane runs it), so their random numbers do not depend on the threads; making one
    /// costs a few dozen integer operations and does not allocate.
    public func random(stream: UInt64, block: Int) -> RandomGenerator {
        var step = RandomGenerator(seed: seed, Stream.layers, epoch, worker, self.step)
        return RandomGenerator(seed: step.next(), stream, UInt64(block), 0, 0)
    }

    /// `job(item, lane)` for every item in 0..<count on the workspace's lanes (on the calling
    /// thread without one). `job` must be made once and kept, see `Parts`.
    func run(_ count: Int, job: @escaping (_ item: Int, _ lane: Int) -> Void) {
        if let workspace { workspace.pool.run(count, job: job) } else { for i in 0..<count { job(i, 0) } }
    }

    /// At least `count` floats of `lane`'s scratch, until its next request.
    func scratch(_ count: Int, lane: Int) -> UnsafeMutablePointer<Float> {
        guard let workspace else {
            preconditionFailure("this layer needs scratch: run it in a Network or give its context a Workspace (on(_:))")
        }
        return workspace.scratch(count, lane: lane)
    }
}

/// A stable 64-bit hash of a layer's name (FNV-1a over its UTF-8), to name its random stream:
/// two networks built from one spec, in any process, give a layer the same stream (Swift's own
/// `Hasher` is seeded per process).
func streamID(_ name: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
    return hash
}
