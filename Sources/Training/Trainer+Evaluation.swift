import Comm
import Config
import Data
import NN
import Tensor

extension Trainer {
    /// The average of all K workers' weights and BatchNorm statistics (§3: the study averages
    /// before every validation, outside training); with `--faults`, of the workers present.
    /// Workers are not modified.
    public func averagedModel() throws -> Replica {
        if communicator.workers == 1 { return replicas[0] }
        if absences != nil && members.count == 1 { return replicas[members[0]] }
        let target = evaluationReplica
        if communicator.processCount == 1 {
            // Sum in worker order, then divide by K: the in-process all-reduce's arithmetic.
            average(\.parameters, into: target.parameters)
            average(\.state, into: target.state)
            return target
        }
        let copies = replicas.map { r -> Replica in
            let c = Replica(parameterCount: r.parameters.count, stateCount: r.state.count)
            c.copyWeights(from: r)
            return c
        }
        try communicator.allReduceMean(copies.map(\.parameters.pointer), count: target.parameters.count)
        try communicator.allReduceMean(copies.map(\.state.pointer), count: target.state.count)
        target.copyWeights(from: copies[0])
        return target
    }

    private func average(_ buffer: KeyPath<Replica, FloatBuffer>, into target: FloatBuffer) {
        ModelEvaluation.average(members.map { replicas[$0][keyPath: buffer].pointer }, into: target, pool: pool)
    }

    /// Mean loss and accuracy of `replica` on `dataset`, in batches of `evalBatchSize` spread
    /// over the threads; sums are taken in batch order so the result does not depend on them.
    public func evaluate(_ replica: Replica, on dataset: Dataset) -> (loss: Double, accuracy: Double) {
        let lanes = networks.indices.map {
            ModelEvaluation.Lane(images: laneImages[$0], labels: laneLabels[$0], network: networks[$0])
        }
        return ModelEvaluation.evaluate(replica, on: dataset, batchSize: config.execution.evalBatchSize, pool: pool, lanes: lanes,
                                        restore: Shape(spec.channels, config.schedule.batchSize, spec.height, spec.width))
    }

    /// Evaluates the averaged model and records the epoch's metrics.
    func finishEpoch(_ epoch: Int) throws {
        let t = now()
        let bytesBefore = communicator.counters.bytes
        let test = evaluate(try averagedModel(), on: data.test)
        try checkTestLoss(test.loss, epoch: epoch)
        var syncWait: Double?
        var sums = workerSums
        if communicator.processCount > 1 {
            sums = try WorkerEpochSums.gather(workerSums, communicator)
            syncWait = try waitForSlowestProcess()
        }
        evaluationBytes += communicator.counters.bytes - bytesBefore
        epochState.time.evaluation += now() - t
        if let syncWait, config.execution.network != nil {
            epochState.modelledSeconds += syncWait
            epochState.modelledCommunication = (epochState.modelledCommunication ?? 0) + syncWait
        }
        let e = epochState
        let bytes = trainingBytes
        let metrics = EpochMetrics(
            epoch: epoch + 1, steps: globalStep,
            trainLoss: WorkerEpochSums.lossSum(sums) / Double(max(1, e.workerSteps(communicator.workers))),
            trainAccuracy: Double(sums.reduce(0) { $0 + $1.correct })
                / Double(max(1, sums.reduce(0) { $0 + $1.samples } * setup.labelsPerSample)),
            testLoss: test.loss, testAccuracy: test.accuracy, testBitsPerChar: setup.bitsPerCharacter(test.loss),
            lr: schedule.learningRate(atStep: globalStep - 1),
            seconds: e.time.training + e.time.evaluation, syncs: strategy.syncs - e.syncsAtStart,
            bytesCommunicated: bytes - e.bytesAtStart, time: e.time,
            modelledSeconds: config.execution.network == nil ? nil : e.modelledSeconds,
            syncWait: syncWait,
            modelledCommunication: config.execution.network == nil ? nil : e.modelledCommunication ?? 0)
        history.append(metrics)
        totalTime = totalTime + e.time
        epochState = EpochAccumulator()
        for k in workerSums.indices { workerSums[k].reset() }
        epochState.syncsAtStart = strategy.syncs
        epochState.bytesAtStart = bytes
        secondsBetweenSyncs.removeAll(keepingCapacity: true)  // no allocation in the next epoch's steps
        lastSyncEnd = communicator.processCount > 1 ? now() : nil  // the evaluation's collectives just synchronised the ranks
        onEvent?(.epochFinished(metrics))
    }

    /// Seconds this process waited at the epoch's training collectives for the slowest process
    /// to arrive (`NetworkModel.waitForSlowest` summed over the collectives), from every
    /// process's wall-clock between collectives, exchanged in microseconds.
    private func waitForSlowestProcess() throws -> Double {
        let all = try communicator.gatherIntegers(secondsBetweenSyncs.map { Int(($0 * 1e6).rounded()) })
        let me = communicator.processRank
        return secondsBetweenSyncs.indices.reduce(0.0) { sum, s in
            sum + NetworkModel.waitForSlowest(secondsSinceLastSync: all.map { Double($0[s]) / 1e6 }, process: me)
        }
    }

    /// Payload bytes of training collectives per worker (evaluation's averaging excluded).
    var trainingBytes: Int {
        restoredBytes + communicator.counters.bytes + subsetCommunicators.values.reduce(0) { $0 + $1.counters.bytes } - evaluationBytes
    }

    package func summary() -> RunSummary {
        var summary = setup.summary(history: history, steps: globalStep, workerSteps: workerStepsTaken,
                      localSteps: config.algorithm.localSteps, totalTime: totalTime, syncs: strategy.syncs, bytes: trainingBytes,
                      modelledSeconds: config.execution.network == nil ? nil : history.compactMap(\.modelledSeconds).reduce(0, +),
                      parameters: network.layout.count)
        summary.effectiveLocalSteps = strategy.averagingSchedule?.changes
        summary.peakBytesPerStep = peakStepBytes
        if communicator.processCount > 1 { summary.syncWait = history.compactMap(\.syncWait).reduce(0, +) }
        if config.execution.network != nil { summary.modelledCommunication = history.compactMap(\.modelledCommunication).reduce(0, +) }
        return summary
    }
}
