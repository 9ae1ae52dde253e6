import Algorithms
import Comm
import Config
import Training

extension AsyncTrainer {
    /// The sequentialised mode: every iteration, the threads step one after the other on the
    /// calling thread, node 0 thread 0, node 0 thread 1, …, node 1 thread 0, …; after each step
    /// the averaging advances (`SequentialAveraging.nodeStepped`). Nothing runs concurrently, so
    /// a run is a pure function of its config, and it continues bitwise from a checkpoint taken
    /// at an epoch end.
    func runSequential() throws {
        for epoch in (globalStep / stepsPerEpoch)..<config.schedule.epochs {
            let plan = try setup.plan(epoch: epoch)
            for w in workers { w.resetSums() }
            var sums = AsyncEpochSums()
            var communication = 0.0
            let start = now()
            var lastReport = start
            for m in 0..<stepsPerEpoch {
                let i = epoch * stepsPerEpoch + m
                for worker in workers {
                    let rounds = board.counters[worker.node].roundsApplied.load(ordering: .sequentiallyConsistent)
                    let step = worker.step(iteration: i, plan: plan, replica: nodes[worker.node], run: context,
                                           roundsApplied: rounds)
                    if let error = lossError(step, worker: worker, iteration: i) { throw TrainingError(error) }
                    sums.add(step, batchSize: config.schedule.batchSize)
                    worker.record(step, batchSize: config.schedule.batchSize)
                    let t = now()
                    try sequential?.nodeStepped(worker.node, communicator: communicator, board: board)
                    communication += now() - t
                }
                if now() - lastReport >= progressInterval {
                    lastReport = now()
                    onEvent?(.progress(progress(sums, elapsed: lastReport - start, epoch: epoch)))
                }
            }
            globalStep = (epoch + 1) * stepsPerEpoch
            onEvent?(.progress(progress(sums, elapsed: now() - start, epoch: epoch)))
            var time = TimeBreakdown()
            time.data = sums.data
            time.forward = sums.forward
            time.backward = sums.backward
            time.optimizer = sums.optimizer
            time.communication = communication
            try finishEpoch(epoch, sums: sums, time: time, applyLock: nil)
        }
        let t = now()
        try sequential?.finish(communicator: communicator, board: board)
        totalTime.communication += now() - t
    }
}

/// The averaging rounds of the sequentialised mode, driven by node steps through the round
/// policy `AsyncRoundSchedule`: snapshots fall due every H node steps, a round starts once
/// every node has its snapshot, and it completes, every node getting x ← x̄ + (x − snapshot),
/// right after the first step at which every node has made at least `delay` steps since its own
/// snapshot (with delay 0: as soon as it starts). With one thread per node and delay 0 this is
/// local SGD with K = N: nodes step in lockstep, all snapshot in the same iteration, nothing
/// moves before completion, and x becomes x̄ bitwise.
struct SequentialAveraging {
    let averaging: AsyncAveraging
    let delay: Int
    var schedule: AsyncRoundSchedule
    /// Updates applied to each node so far.
    var nodeSteps: [Int]
    /// `--momentum-sync average`: for each thread index, that thread's momentum on every node,
    /// averaged after each round (as local SGD averages its workers' momentum); for Adam the
    /// same groups of second moments follow.
    var momentumGroups: [[UnsafeMutablePointer<Float>]] = []
    var momentumCount = 0

    init(averaging: AsyncAveraging, averageEvery: Int, delay: Int) {
        self.averaging = averaging
        self.delay = delay
        schedule = AsyncRoundSchedule(nodes: averaging.nodes.count, averageEvery: averageEvery)
        nodeSteps = [Int](repeating: 0, count: averaging.nodes.count)
    }

    /// Counts one update of node `n` and advances the rounds as far as they go.
    mutating func nodeStepped(_ n: Int, communicator: Communicator, board: AsyncBoard) throws {
        nodeSteps[n] += 1
        var changed = true
        while changed {
            changed = false
            // After every node step: checks without building arrays.
            for k in nodeSteps.indices where schedule.isDue(node: k, step: nodeSteps[k]) {
                averaging.snapshot(node: k)
                schedule.snapshotTaken(node: k, atStep: nodeSteps[k])
                changed = true
            }
            if schedule.readyToStart {
                try averaging.start(communicator)
                schedule.started()
                changed = true
            }
            if schedule.mayComplete(steps: nodeSteps, delay: delay) {
                try complete(board: board, communicator: communicator)
                changed = true
            }
        }
    }

    /// At the end of training: completes a round in flight, or one some nodes have snapshotted
    /// (the others snapshot now).
    mutating func finish(communicator: Communicator, board: AsyncBoard) throws {
        if !schedule.inFlight {
            let missing = schedule.missing
            guard missing.count < nodeSteps.count else { return }
            for k in missing {
                averaging.snapshot(node: k)
                schedule.snapshotTaken(node: k, atStep: nodeSteps[k])
            }
            try averaging.start(communicator)
            schedule.started()
            board.locked { board.stats.forcedRounds += 1 }
        }
        try complete(board: board, communicator: communicator)
    }

    private mutating func complete(board: AsyncBoard, communicator: Communicator) throws {
        try averaging.wait()
        for k in nodeSteps.indices { averaging.apply(node: k) }
        averaging.finishRound()
        for group in momentumGroups { try communicator.allReduceMean(group, count: momentumCount) }
        for counter in board.counters { counter.roundsApplied.add(1, ordering: .sequentiallyConsistent) }
        let stale = schedule.completed(steps: nodeSteps)
        board.locked {
            board.stats.rounds += 1
            board.stats.updatesDuringRounds += stale
        }
    }
}
