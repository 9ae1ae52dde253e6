import Algorithms
import NN
import RunFiles

extension Trainer {
    /// The first NaN or infinity in this process's workers: weights, BatchNorm statistics,
    /// momentum, Adam's second moment.
    public func firstNonFiniteValue() -> FiniteCheck.Finding? {
        for (k, replica) in replicas.enumerated() {
            let owner = "worker \(communicator.localWorkers.lowerBound + k)'s "
            if let finding = FiniteCheck.check(replica, network: network, owner: owner)
                ?? FiniteCheck.check(optimizerStates[k].momentum, layout: network.layout.slots, owner: owner, suffix: " momentum")
                ?? optimizerStates[k].secondMoment.flatMap({
                    FiniteCheck.check($0, layout: network.layout.slots, owner: owner, suffix: " second moment") }) {
                return finding
            }
        }
        return nil
    }
}

extension Trainer {
    /// This process's workers: each one's state goes to its own checkpoint file.
    public var checkpointWorkers: [Int] { Array(communicator.localWorkers) }

    /// The strategy counter that says whether the compressor's anchors hold an average (1) or not yet (0).
    static let anchorsSetKey = "compress.anchors_set"

    /// Every local worker's weights, BatchNorm statistics, momentum (Adam: both moments and t),
    /// last learning rate and epoch sums, the strategy's counters and buffers, the epoch's
    /// shared sums so far.
    public func checkpointState() throws -> CheckpointState {
        var state = CheckpointState(
            step: globalStep, workers: config.algorithm.workers, localWorkers: Array(communicator.localWorkers),
            parameterCount: network.layout.count, stateCount: network.stateLayout.count,
            previousLearningRates: optimizerStates.map(\.previousLearningRate), strategy: strategy.saveState(),
            history: history, epochState: epochState, totalTime: totalTime, trainingBytes: trainingBytes, config: config)
        for (k, r) in replicas.enumerated() {
            let w = communicator.localWorkers.lowerBound + k
            state.buffers["worker.\(w).parameters"] = r.parameters.array
            state.buffers["worker.\(w).state"] = r.state.array
        }
        state.saveOptimizer(optimizerStates, workers: Array(communicator.localWorkers))
        state.workerEpochSums = workerSums
        state.peakStepBytes = peakStepBytes
        if strategy.overlapSteps > 0 { state.timeline = timeline }
        if let compressor {
            for (name, buffer) in compressor.checkpointBuffers { state.buffers[name] = buffer.array }
            state.strategy.counters = (state.strategy.counters ?? [:]).merging([Self.anchorsSetKey: compressor.anchorsSet ? 1 : 0]) { $1 }
        }
        if let syncRecorder {
            state.syncRecorder = syncRecorder.state
            state.buffers.merge(syncRecorder.anchorBuffers()) { $1 }
        }
        state.clocks = clocks
        return state
    }

    public func restore(_ state: CheckpointState, path: String) throws {
        guard state.async == nil, state.previousLearningRates.count == replicas.count,
              let sums = state.workerEpochSums, sums.count == replicas.count else {
            throw TrainingError("\(path) does not match this run's model or workers (\(state.localWorkers.count) workers of \(state.parameterCount) parameters)")
        }
        for (k, r) in replicas.enumerated() {
            let w = communicator.localWorkers.lowerBound + k
            r.parameters.load(try state.buffer("worker.\(w).parameters", count: r.parameters.count, path: path))
            r.state.load(try state.buffer("worker.\(w).state", count: r.state.count, path: path))
        }
        try state.restoreOptimizer(optimizerStates, workers: Array(communicator.localWorkers), path: path)
        if let compressor {
            for (name, buffer) in compressor.checkpointBuffers { buffer.load(try state.buffer(name, count: buffer.count, path: path)) }
            compressor.restoreAnchorsSet(state.strategy.counters?[Self.anchorsSetKey] == 1)
        }
        do {
            try strategy.restoreState(state.strategy)
            try syncRecorder?.restore(state.syncRecorder, buffers: state.buffers)
        } catch let e as StrategyError {
            throw TrainingError("\(path): \(e.description)")
        }
        globalStep = state.step
        history = state.history
        epochState = state.epochState
        workerSums = sums
        reserveEpochSums()
        totalTime = state.totalTime
        restoredBytes = state.trainingBytes
        peakStepBytes = state.peakStepBytes ?? 0
        timeline = state.timeline ?? ModelledTimeline()
        if clocks != nil { clocks = state.clocks ?? WorkerClocks(workers: config.algorithm.workers) }
        restoreLocalStepsTaken()
    }
}
