import Algorithms
import Foundation
import NN
import RunFiles
import Training

/// Checkpoints of the sequentialised mode (`--async-deterministic`), taken at epoch ends: every
/// node's weights and BatchNorm statistics, every thread's momentum (Adam: both moments and t)
/// and last learning rate, the round schedule and, if a round has begun, its snapshots and
/// reduction buffers. The concurrent mode's state at an epoch end depends on thread timing, so
/// it takes none.
extension AsyncTrainer {
    /// The worker threads of this process's nodes; each thread's optimizer state goes to its
    /// own checkpoint file, the nodes and rounds to the shared one (async checkpoints come only
    /// from the sequentialised mode, which runs in one process).
    public var checkpointWorkers: [Int] { workers.map(\.index) }

    public func checkpointState() throws -> CheckpointState {
        guard let round = sequentialRoundState() else {
            throw TrainingError("checkpoints of async runs need --async-deterministic")
        }
        var state = CheckpointState(
            step: globalStep, workers: config.asyncWorkers, localWorkers: checkpointWorkers,
            parameterCount: network.layout.count, stateCount: network.stateLayout.count,
            previousLearningRates: workers.map(\.optimizerState.previousLearningRate),
            history: history, totalTime: totalTime, trainingBytes: trainingBytes, config: config)
        state.async = AsyncCheckpoint(nodeSteps: round.nodeSteps, schedule: round.schedule, stats: stats,
                                      epochStartSyncs: epochStart.syncs, epochStartBytes: epochStart.bytes,
                                      roundsApplied: board.counters.map { $0.roundsApplied.load(ordering: .sequentiallyConsistent) },
                                      roundsSeen: workers.map(\.roundsSeen))
        for (n, r) in nodes.enumerated() {
            state.buffers["node.\(n).parameters"] = r.parameters.array
            state.buffers["node.\(n).state"] = r.state.array
        }
        state.saveOptimizer(workers.map(\.optimizerState), workers: workers.map(\.index))
        if let sequential, sequential.schedule.snapshotted.contains(true) {
            try sequential.averaging.wait()  // a round in flight: its mean, not yet applied, is saved
            for n in nodes.indices {
                let (snapshot, reduced) = sequential.averaging.roundBuffers(node: n)
                state.buffers["round.\(n).snapshot"] = snapshot
                state.buffers["round.\(n).reduced"] = reduced
            }
        }
        return state
    }

    /// The round bookkeeping of the sequentialised mode (with one node, nothing to average).
    private func sequentialRoundState() -> (nodeSteps: [Int], schedule: AsyncRoundSchedule?)? {
        guard config.async.asyncDeterministic else { return nil }
        guard let sequential else { return ([globalStep * config.async.threadsPerNode], nil) }
        return (sequential.nodeSteps, sequential.schedule)
    }

    public func restore(_ state: CheckpointState, path: String) throws {
        guard config.async.asyncDeterministic, let async = state.async,
              state.previousLearningRates.count == workers.count,
              async.nodeSteps.count == nodes.count, (async.schedule == nil) == (sequential == nil) else {
            throw TrainingError("\(path) does not match this run's nodes and threads (\(state.previousLearningRates.count) worker threads of \(state.parameterCount) parameters)")
        }
        for (n, r) in nodes.enumerated() {
            r.parameters.load(try state.buffer("node.\(n).parameters", count: r.parameters.count, path: path))
            r.state.load(try state.buffer("node.\(n).state", count: r.state.count, path: path))
        }
        try state.restoreOptimizer(workers.map(\.optimizerState), workers: workers.map(\.index), path: path)
        if var sequential, let schedule = async.schedule {
            sequential.schedule = schedule
            sequential.nodeSteps = async.nodeSteps
            if schedule.snapshotted.contains(true) {
                let count = sequential.averaging.count
                for n in nodes.indices {
                    sequential.averaging.restoreRoundBuffers(
                        node: n, snapshot: try state.buffer("round.\(n).snapshot", count: count, path: path),
                        reduced: try state.buffer("round.\(n).reduced", count: count, path: path))
                }
            }
            self.sequential = sequential
        }
        board.locked { board.stats = async.stats }
        for (counter, rounds) in zip(board.counters, async.roundsApplied ?? []) {
            counter.roundsApplied.store(rounds, ordering: .sequentiallyConsistent)
        }
        for (worker, seen) in zip(workers, async.roundsSeen ?? []) { worker.roundsSeen = seen }
        epochStart = (async.epochStartSyncs, async.epochStartBytes)
        globalStep = state.step
        history = state.history
        totalTime = state.totalTime
        restoredBytes = state.trainingBytes
    }

    /// The first NaN or infinity in this process's nodes (weights, BatchNorm statistics) or threads' momentum.
    public func firstNonFiniteValue() -> FiniteCheck.Finding? {
        for (n, r) in nodes.enumerated() {
            if let finding = FiniteCheck.check(r, network: network, owner: "node \(communicator.localWorkers.lowerBound + n)'s ") {
                return finding
            }
        }
        for w in workers {
            if let finding = FiniteCheck.check(w.optimizerState.momentum, layout: network.layout.slots,
                                               owner: "worker \(w.index)'s ", suffix: " momentum")
                ?? w.optimizerState.secondMoment.flatMap({
                    FiniteCheck.check($0, layout: network.layout.slots, owner: "worker \(w.index)'s ", suffix: " second moment") }) {
                return finding
            }
        }
        return nil
    }
}
