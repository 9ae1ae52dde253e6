import Comm
import Config
import Data
import Foundation
import NN
import Tensor
import Training

extension AsyncTrainer {
    /// The average of all N nodes' weights and BatchNorm statistics (§3: the study evaluates the
    /// averaged model, outside training). Nodes are not modified. `applyLock`, when the averaging
    /// loop runs, keeps a round from being applied while the nodes are read.
    public func averagedModel() throws -> Replica { try averagedModel(applyLock: nil) }

    func averagedModel(applyLock: NSLock?) throws -> Replica {
        if config.async.nodes == 1 { return nodes[0] }
        let target = evaluationReplica
        applyLock?.lock()
        if communicator.processCount == 1 {
            // Sum in node order, then divide by N: the in-process all-reduce's arithmetic.
            average(\.parameters, into: target.parameters)
            average(\.state, into: target.state)
            applyLock?.unlock()
            return target
        }
        target.copyWeights(from: nodes[0])  // one node per process
        applyLock?.unlock()
        guard let comm = evaluationCommunicator else { throw TrainingError("no evaluation communicator") }
        try comm.allReduceMean([target.parameters.pointer], count: target.parameters.count)
        try comm.allReduceMean([target.state.pointer], count: target.state.count)
        return target
    }

    private func average(_ buffer: KeyPath<Replica, FloatBuffer>, into target: FloatBuffer) {
        ModelEvaluation.average(nodes.map { $0[keyPath: buffer].pointer }, into: target, pool: evaluationPool)
    }

    /// Mean loss and accuracy of `replica` on `dataset`, in batches of `evalBatchSize` spread over
    /// the evaluation threads (using idle workers' networks); sums in batch order.
    public func evaluate(_ replica: Replica, on dataset: Dataset) -> (loss: Double, accuracy: Double) {
        let lanes = workers.map { ModelEvaluation.Lane(images: $0.images, labels: $0.labels, network: $0.network) }
        return ModelEvaluation.evaluate(replica, on: dataset, batchSize: config.execution.evalBatchSize, pool: evaluationPool,
                                        lanes: lanes, restore: Shape(spec.channels, config.schedule.batchSize, spec.height, spec.width))
    }

    /// Evaluates the averaged model and records the epoch's metrics; `time` is the epoch's
    /// training time, to which the evaluation's is added.
    func finishEpoch(_ epoch: Int, sums: AsyncEpochSums, time: TimeBreakdown, applyLock: NSLock?) throws {
        let t = now()
        let test = evaluate(try averagedModel(applyLock: applyLock), on: data.test)
        try checkTestLoss(test.loss, epoch: epoch)
        var sums = sums
        if communicator.processCount > 1, let comm = evaluationCommunicator {
            sums.lossSum = Double(try sum(Float(sums.lossSum), over: comm))
            sums.correct = Int(try sum(Float(sums.correct), over: comm).rounded())
            sums.samples = Int(try sum(Float(sums.samples), over: comm).rounded())
            sums.steps = Int(try sum(Float(sums.steps), over: comm).rounded())
        }
        let modelled = try modelledEpochSeconds()
        measuredCompute.seconds += workers.reduce(0) { $0 + $1.sums.compute }
        measuredCompute.steps += workers.reduce(0) { $0 + $1.sums.steps }
        var time = time
        time.evaluation += now() - t
        let syncs = stats.rounds, bytes = trainingBytes
        let metrics = EpochMetrics(
            epoch: epoch + 1, steps: globalStep,
            trainLoss: sums.lossSum / Double(max(1, sums.steps)),
            trainAccuracy: Double(sums.correct) / Double(max(1, sums.samples * setup.labelsPerSample)),
            testLoss: test.loss, testAccuracy: test.accuracy, testBitsPerChar: setup.bitsPerCharacter(test.loss),
            lr: schedule.learningRate(atStep: max(0, globalStep - 1)),
            seconds: time.training + time.evaluation, syncs: syncs - epochStart.syncs,
            bytesCommunicated: bytes - epochStart.bytes, time: time, modelledSeconds: modelled)
        history.append(metrics)
        totalTime = totalTime + time
        epochStart = (syncs, bytes)
        onEvent?(.epochFinished(metrics))
        try afterProgress?()
    }

    func summary() -> RunSummary {
        setup.summary(history: history, steps: globalStep,
                      localSteps: config.async.averageSeconds == nil ? config.resolvedAverageEvery : 0, totalTime: totalTime,
                      syncs: stats.rounds, bytes: trainingBytes,
                      modelledSeconds: config.execution.network == nil ? nil : history.compactMap(\.modelledSeconds).reduce(0, +),
                      parameters: network.layout.count)
    }

    /// With `--network`: the epoch's seconds with every node on its own machine and its P threads
    /// on P cores, i.e. the slowest thread's computing (over every process); with
    /// `--worker-speeds`, each thread's own clock, its computing divided by its speed, and the
    /// latest of them. Nobody waits for anyone at a round: the averaging overlaps with the
    /// computing, and a round the network makes slower makes the average staler
    /// (`AsyncStats.modelledRoundNodeSteps`), not the epoch longer. Nil without `--network`.
    func modelledEpochSeconds() throws -> Double? {
        guard config.execution.network != nil else { return nil }
        let fixed = config.execution.modelledCompute
        let compute = workers.map { w -> Double in fixed.map { Double(w.sums.steps) * $0 } ?? w.sums.compute }
        let slowest = WorkerClocks.unsynchronized(compute: compute,
                                                  speeds: workers.map { speeds[$0.index] })
        guard communicator.processCount > 1, let comm = evaluationCommunicator else { return slowest }
        let microseconds = try comm.gatherIntegers([Int((slowest * 1e6).rounded())]).map { $0[0] }
        return Double(microseconds.max() ?? 0) / 1e6
    }

    /// One round's all-reduce on the `--network` model, in seconds and in the node updates it
    /// spans (each node makes P updates per thread step): the `--async-delay` that network implies.
    func recordModelledRound() {
        guard let modelled = communicator as? ModelledCommunicator, let averaging else { return }
        let round = modelled.network.allReduceSeconds(bytes: 4 * (averaging.count - averaging.broadcastCount),
                                                      workers: config.async.nodes, groupSize: config.async.nodes)
        let (seconds, steps) = measuredCompute
        board.locked {
            board.stats.modelledRoundSeconds = round
            if seconds > 0 && steps > 0 {
                board.stats.modelledRoundNodeSteps = round / (seconds / Double(steps)) * Double(config.async.threadsPerNode)
            }
        }
    }
}
