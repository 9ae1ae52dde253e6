import Data
import NN
import Optim
import Synchronization
import Tensor
import Training

/// One worker thread of an asynchronous local SGD node (paper 002, technique (a)): its own
/// network (activations), gradient buffer, momentum and batch buffers; the node's parameters
/// and BatchNorm statistics are shared with the node's other threads and updated without locks.
///
/// Its data and learning rate follow Algorithm 2 of the study with K = N·P: it is worker
/// `index` (= node·P + thread) of the epoch's split, and its i-th iteration (its own count)
/// takes the schedule's rate for step i.
///
/// `@unchecked Sendable`: everything here belongs to the one thread running `step` (and, between
/// epochs, to the main thread), except the node replica it is given, which is shared on purpose
/// (Hogwild), and the progress atomics, which the main thread reads while it runs.
final class AsyncWorker: @unchecked Sendable {
    /// Global worker index in the data split.
    let index: Int
    /// Local node index (into `AsyncTrainer.nodes`).
    let node: Int
    let network: Network
    let gradients: FloatBuffer
    let optimizerState: OptimizerState
    let images: Tensor
    let labels: UnsafeMutableBufferPointer<Int32>
    /// The node's applied rounds this thread has seen (for `--momentum-sync reset`).
    var roundsSeen = 0
    /// This epoch's sums, written by the worker's thread, read after it has finished.
    var sums = AsyncEpochSums()
    /// Steps and loss sum of this epoch so far (the loss as `Double` bits), for progress lines.
    let progressSteps = Atomic<Int>(0)
    let progressLoss = Atomic<UInt64>(0)

    /// Labels hold `setup.labelCapacity`: a training or evaluation batch's labels.
    init(index: Int, node: Int, setup: RunSetup) throws {
        self.index = index
        self.node = node
        network = try setup.makeNetwork()
        gradients = FloatBuffer(count: network.layout.count)
        optimizerState = OptimizerState(count: network.layout.count, kind: setup.config.optimizer.kind)
        images = Tensor(setup.batchShape)
        labels = .allocate(capacity: setup.labelCapacity)
        labels.initialize(repeating: 0)
    }

    deinit { labels.deallocate() }

    /// Adds a step to this epoch's sums and publishes the progress.
    func record(_ step: WorkerStep, batchSize: Int) {
        sums.add(step, batchSize: batchSize)
        progressSteps.store(sums.steps, ordering: .relaxed)
        progressLoss.store(sums.lossSum.bitPattern, ordering: .relaxed)
    }

    /// Clears the sums for a new epoch (while no thread runs this worker).
    func resetSums() {
        sums = AsyncEpochSums()
        progressSteps.store(0, ordering: .relaxed)
        progressLoss.store(0, ordering: .relaxed)
    }

    /// Iteration `iteration` of this worker on `replica` (its node's shared weights): batch,
    /// forward, backward into its own gradients, then the optimizer step on the shared weights.
    ///
    /// `roundsApplied`: averaging rounds applied to the node so far. With `--momentum-sync reset`
    /// the thread zeroes its momentum (Adam: both moments and t) at its first step after a round,
    /// as local SGD does after an average (so one thread per node with immediate completion stays
    /// local SGD bitwise).
    func step(iteration: Int, plan: EpochPlan, replica: Replica, run: AsyncRunContext, roundsApplied: Int) -> WorkerStep {
        let setup = run.setup, seed = setup.config.execution.seed
        let epoch = iteration / setup.stepsPerEpoch, m = iteration % setup.stepsPerEpoch
        let lr = setup.schedule.learningRate(atStep: iteration)
        let t0 = now()
        var rng = RandomGenerator(seed: seed, Stream.augmentation, UInt64(epoch), UInt64(index), UInt64(m))
        fillBatch(from: setup.data.train, indices: plan.indices(worker: index, step: m), images: images.pointer,
                  labels: labels.baseAddress!, augmentation: setup.augmentation, rng: &rng)
        let t1 = now()
        gradients.zero()
        let view = ReplicaView(parameters: replica.parameters.pointer, gradients: gradients.pointer,
                               state: replica.state.pointer)
        let result = network.forwardLoss(images: images, labels: labels.baseAddress!, view,
                                         .training(seed: seed, epoch: epoch, worker: index, step: m))
        let t2 = now()
        network.backward(view)
        let t3 = now()
        if run.resetMomentum && roundsApplied != roundsSeen {
            roundsSeen = roundsApplied
            optimizerState.resetMoments()
        }
        run.optimizer.step(parameters: replica.parameters.pointer, gradients: gradients.pointer,
                           state: optimizerState, learningRate: lr)
        return WorkerStep(loss: result.loss, correct: result.correct, data: t1 - t0, forward: t2 - t1,
                    backward: t3 - t2, optimizer: now() - t3)
    }
}

/// The read-only facts every worker step needs, shared by all threads: the run's setup (data,
/// schedule, iterations per epoch), the optimizer and the momentum policy.
struct AsyncRunContext: Sendable {
    let setup: RunSetup
    let optimizer: Optimizer
    /// `--momentum-sync reset`: each thread zeroes its momentum (Adam: m, v and t) after every round applied to its node.
    let resetMomentum: Bool
}
