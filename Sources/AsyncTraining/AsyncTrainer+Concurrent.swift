import Comm
import Config
import Data
import Foundation
import Synchronization
import Tensor
import Training

extension AsyncTrainer {
    /// The concurrent mode: per epoch, one `Thread` per worker runs the epoch's iterations on
    /// its node's shared replica while the averaging loop averages the nodes in the background;
    /// the epoch ends when every thread has finished it (the synchronisation point at which the
    /// averaged model is evaluated).
    func runConcurrent() throws {
        let loop = averaging.map {
            AsyncAveragingLoop(board: board, averaging: $0, communicator: communicator,
                               averageEvery: config.resolvedAverageEvery, averageSeconds: config.async.averageSeconds)
        }
        loop?.start()
        do {
            for epoch in 0..<config.schedule.epochs {
                try runEpoch(epoch, loop: loop)
            }
        } catch {
            if let loop { abandon(loop) }
            throw error
        }
        if let loop { try stopAveraging(loop) }
    }

    private func runEpoch(_ epoch: Int, loop: AsyncAveragingLoop?) throws {
        let plan = try setup.plan(epoch: epoch)
        for w in workers { w.resetSums() }
        let start = now()
        let group = DispatchGroup()
        for worker in workers {
            group.enter()
            let thread = Thread { [self] in
                work(worker, iterations: (epoch * stepsPerEpoch)..<((epoch + 1) * stepsPerEpoch), plan: plan)
                group.leave()
            }
            thread.name = "async-worker-\(worker.index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        while group.wait(timeout: .now() + 2) == .timedOut {
            var sums = AsyncEpochSums()
            for w in workers {
                sums.steps += w.progressSteps.load(ordering: .relaxed)
                sums.lossSum += Double(bitPattern: w.progressLoss.load(ordering: .relaxed))
            }
            sums.samples = sums.steps * config.schedule.batchSize
            onEvent?(.progress(progress(sums, elapsed: now() - start, epoch: epoch)))
        }
        let wall = now() - start
        // The group's wait orders the threads' writes of their sums before these reads.
        let sums = workers.map(\.sums).reduce(AsyncEpochSums(), +)
        let failure = board.locked { board.failure }
        if let failure { throw TrainingError(failure) }
        board.locked { board.stats.workerWaitSeconds += sums.wait }
        globalStep = (epoch + 1) * stepsPerEpoch
        onEvent?(.progress(progress(sums, elapsed: wall, epoch: epoch)))
        try finishEpoch(epoch, sums: sums, time: sums.breakdown(wall: wall), applyLock: loop?.applyLock)
    }

    /// One thread's iterations of an epoch; stops early when any thread has failed. The only
    /// contact with the averaging loop: counting the node's step, and waking the loop when the
    /// node's snapshot falls due (time charged as waiting).
    private func work(_ worker: AsyncWorker, iterations: Range<Int>, plan: EpochPlan) {
        let replica = nodes[worker.node], counter = board.counters[worker.node]
        for i in iterations {
            let step = worker.step(iteration: i, plan: plan, replica: replica, run: context,
                                   roundsApplied: counter.roundsApplied.load(ordering: .sequentiallyConsistent))
            worker.record(step, batchSize: config.schedule.batchSize)
            if let error = lossError(step, worker: worker, iteration: i) {
                board.fail(error)
                return
            }
            let steps = counter.steps.add(1, ordering: .sequentiallyConsistent).newValue
            if steps == counter.nextSnapshot.load(ordering: .sequentiallyConsistent) {
                let t0 = now()
                board.wakeup.signal()
                worker.sums.wait += now() - t0
            }
            if board.failed.load(ordering: .relaxed) { return }
        }
    }

    /// Ends the averaging loop after the last epoch. A round this process started must be
    /// joined by every process (a collective), and a process only knows its own rounds: so once
    /// its loop is settled (idle, or a round in flight, either way starting nothing by itself),
    /// the processes add up the rounds they started; rounds differ by at most one (a round
    /// starts only after the previous one completed everywhere), so one that started fewer
    /// than the largest count forces one more. In one process the loop completes a round some
    /// nodes have snapshotted by itself.
    func stopAveraging(_ loop: AsyncAveragingLoop) throws {
        let t0 = now()
        board.tellLoop { board.stopping = true }
        board.wait { [board] in board.phase == .idle || board.phase == .inFlight || board.phase == .exited }
        if communicator.processCount > 1, let evaluation = evaluationCommunicator {
            let mine = board.locked { board.roundsStarted }
            let total = try sum(Float(mine), over: evaluation)
            if total > Float(mine * communicator.processCount) {
                board.tellLoop { board.forceRound = true }
            }
        }
        board.tellLoop { board.finished = true }
        loop.join()
        let waited = now() - t0
        board.locked { board.stats.workerWaitSeconds += waited * Double(workers.count) }
        totalTime.communication += waited
        if let error = board.locked({ board.loopError }) { throw TrainingError("averaging failed: \(error)") }
    }

    /// After a failure: stop the loop without the agreement (the run is over anyway).
    private func abandon(_ loop: AsyncAveragingLoop) {
        board.fail("training stopped")
        board.tellLoop {
            board.stopping = true
            board.finished = true
        }
        if communicator.processCount == 1 { loop.join() }
    }

    /// Σ over processes of one value (one per process; the local worker is the node).
    func sum(_ value: Float, over comm: Communicator) throws -> Float {
        let buffers = (0..<comm.localWorkers.count).map { k in FloatBuffer([k == 0 ? value : 0]) }
        try comm.allReduceSum(buffers.map(\.pointer), count: 1)
        return buffers[0][0]
    }
}
