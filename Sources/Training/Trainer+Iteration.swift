import Algorithms
import Comm
import Config
import Data
import NN
import Tensor

extension Trainer {
    /// One iteration t of Algorithm 2 across the workers of this process: epoch `epoch`, step `m`
    /// of it. The present workers all take part in the synchronization; those `computing` (all
    /// of them unless `--dynamic-local-steps` leaves some idle) draw a batch and step.
    func iterate(epoch: Int, step m: Int) throws {
        let lr = schedule.learningRate(atStep: globalStep)
        let first = communicator.localWorkers.lowerBound
        let start = now()
        let present = members
        let working = dynamicLocalSteps == nil ? present : computing
        let plans = dataPlans
        pool.run(working.count) { i, lane in
            let k = working[i]
            let worker = first + k
            let (e, s) = dataPosition(k)
            let plan = plans.first { $0.epoch == e }!
            let t0 = now()
            var rng = RandomGenerator(seed: config.execution.seed, Stream.augmentation, UInt64(e), UInt64(worker), UInt64(s))
            fillBatch(from: data.train, indices: plan.indices(worker: worker, step: s), images: laneImages[lane].pointer,
                      labels: laneLabels[lane].baseAddress!, augmentation: setup.augmentation, rng: &rng)
            let t1 = now()
            let view = replicas[k].view
            replicas[k].gradients.zero()
            let result = networks[lane].forwardLoss(images: laneImages[lane], labels: laneLabels[lane].baseAddress!, view,
                                                    .training(seed: config.execution.seed, epoch: e, worker: worker, step: s))
            let t2 = now()
            networks[lane].backward(view)
            stepResults[k] = WorkerStep(loss: result.loss, correct: result.correct, data: t1 - t0, forward: t2 - t1,
                                        backward: now() - t2)
        }
        let computeWall = now() - start
        var measured = WorkerStep()
        var slowest = 0.0
        for k in working {
            let r = stepResults[k]
            guard r.loss.isFinite else {
                throw TrainingError("the training loss of worker \(first + k) became \(r.loss) at epoch \(epoch + 1), step \(m + 1); \(divergenceAdvice)")
            }
            workerSums[k].losses.append(r.loss)
            workerSums[k].correct += r.correct
            workerSums[k].samples += config.schedule.batchSize
            measured.data += r.data
            measured.forward += r.forward
            measured.backward += r.backward
            slowest = max(slowest, r.data + r.forward + r.backward)
        }
        if working.count < replicas.count {
            epochState.absentWorkerSteps = (epochState.absentWorkerSteps ?? 0) + replicas.count - working.count
            for k in replicas.indices where !working.contains(k) { workerSums[k].losses.append(.nan) }
        }
        let total = max(1e-12, measured.data + measured.forward + measured.backward)
        epochState.time.data += computeWall * measured.data / total
        epochState.time.forward += computeWall * measured.forward / total
        epochState.time.backward += computeWall * measured.backward / total

        // Without faults the active workers are all of them and the communicator the run's.
        let communicator = activeCommunicator
        _ = (communicator as? ModelledCommunicator)?.takeRecentSeconds()  // what came between iterations (MPI's evaluation)
        let bytesBefore = communicator.counters.bytes
        // The strategy plans; the trainer fuses the plan's arithmetic into the optimizer pass.
        // Compressed payloads are decoded and reduced by the codec, never fused; nor are the
        // weights of an average that idle workers (DyLU) join without an optimizer pass.
        let syncPlan = strategy.plan(step: globalStep, workers: communicator.workers)
        let fusion = compressor != nil || working.count < present.count ? SyncFusion()
            : SyncFusion(plan: syncPlan, workers: communicator.workers)
        let context = SyncContext(step: globalStep, learningRate: lr, workers: activeWorkers, communicator: communicator,
                                  fusion: fusion, compression: compressor, recorder: syncRecorder)
        syncRecorder?.beginIteration(step: globalStep, plan: syncPlan, workers: activeWorkers, communicator: communicator,
                                     present: absences == nil ? nil : present)
        try timeCommunication(communicator) { try strategy.afterBackward(context) }
        let t = now()
        pool.run(working.count) { i, _ in
            let k = working[i]
            optimizer.step(parameters: replicas[k].parameters.pointer, gradients: replicas[k].gradients.pointer,
                           state: optimizerStates[k], learningRate: lr, gradientDivisor: fusion.gradientDivisor,
                           parameterScale: fusion.parameterScale)
        }
        let optimizerWall = now() - t
        epochState.time.optimizer += optimizerWall
        try timeCommunication(communicator) {
            try strategy.afterStep(context)
            syncRecorder?.endIteration(context)
        }
        peakStepBytes = max(peakStepBytes, communicator.counters.bytes - bytesBefore)
        if let modelled = communicator as? ModelledCommunicator {
            // One worker's optimizer step: the phase ran working.count steps on up to `lanes` threads.
            let perWorkerOptimizer = optimizerWall * Double(min(pool.lanes, working.count)) / Double(working.count)
            let communication = modelled.takeRecentSeconds()
            epochState.modelledCommunication = (epochState.modelledCommunication ?? 0) + communication
            // `--modelled-compute` replaces what this machine measured.
            let fixed = config.execution.modelledCompute
            if clocks != nil {
                epochState.modelledSeconds += clocks!.advance(present: present, computing: working, speeds: speeds,
                                                              synchronizes: syncPlan != .none, communication: communication) { k in
                    let r = stepResults[k]
                    return fixed ?? (r.data + r.forward + r.backward + perWorkerOptimizer)
                }
            } else if strategy.overlapSteps > 0 {
                epochState.modelledSeconds += timeline.advance(step: globalStep, compute: fixed ?? (slowest + perWorkerOptimizer),
                                                               communication: communication, overlap: strategy.overlapSteps)
            } else {
                epochState.modelledSeconds += (fixed ?? (slowest + perWorkerOptimizer)) + communication
            }
        }
        epochState.steps += 1
        countLocalSteps(working)
    }

    /// Runs a strategy phase as communication time; if it issued a collective on `comm`, records
    /// the wall-clock since the end of the previous one (what `NetworkModel.waitForSlowest`
    /// compares across processes).
    private func timeCommunication(_ comm: Communicator, _ phase: () throws -> Void) throws {
        let rounds = comm.counters.rounds
        let start = now()
        try phase()
        let end = now()
        epochState.time.communication += end - start
        // Only the processes of an MPI run compare these (`NetworkModel.waitForSlowest`).
        guard comm.processCount > 1, comm.counters.rounds != rounds else { return }
        if let last = lastSyncEnd { secondsBetweenSyncs.append(start - last) }
        lastSyncEnd = end
    }
}
