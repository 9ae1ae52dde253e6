import Algorithms
import Comm
import Config

extension AsyncTrainer {
    /// The sequentialised mode: every iteration, the threads step one after the other on the
    /// calling thread, node 0 thread 0, node 0 thread 1, …, node 1 thread 0, …; after each step
    /// the averaging advances (`SequentialAveraging.advance`). Nothing runs concurrently, so a
    /// run is a pure function of its config.
    func runSequential() throws {
        var rounds = averaging.map {
            SequentialAveraging(averaging: $0, averageEvery: config.resolvedAverageEvery, delay: config.asyncDelay)
        }
        for epoch in 0..<config.epochs {
            let plan = try plan(epoch: epoch)
            var sums = AsyncEpochSums()
            var communication = 0.0
            let start = now()
            var lastReport = start
            for m in 0..<stepsPerEpoch {
                let i = epoch * stepsPerEpoch + m
                for worker in workers {
                    let step = worker.step(iteration: i, plan: plan, replica: nodes[worker.node], run: context)
                    if let error = lossError(step, worker: worker, iteration: i) { throw TrainingError(error) }
                    sums.add(step, batchSize: config.batchSize)
                    let t = now()
                    try rounds?.nodeStepped(worker.node, communicator: communicator, board: board)
                    communication += now() - t
                }
                if now() - lastReport >= 2 {
                    lastReport = now()
                    onEvent?(.progress(progress(sums, elapsed: lastReport - start, epoch: epoch)))
                }
            }
            iterations = (epoch + 1) * stepsPerEpoch
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
        try rounds?.finish(communicator: communicator, board: board)
        totalTime.communication += now() - t
    }
}

/// The averaging rounds of the sequentialised mode, driven by node steps:
/// - a node takes its snapshot right after the step that brings its count to H past its last
///   snapshot (the first at H), unless a round is in flight (then right after it completes);
/// - the round's all-reduce starts once every node has its snapshot;
/// - it completes, and every node gets x ← x̄ + (x − snapshot), right after the first step at
///   which every node has made at least `delay` steps since its own snapshot (with delay 0:
///   as soon as it starts).
/// With one thread per node and delay 0 this is local SGD with K = N: nodes step in lockstep,
/// all snapshot in the same iteration, nothing moves before completion, and x becomes x̄
/// bitwise.
struct SequentialAveraging {
    let averaging: AsyncAveraging
    let averageEvery: Int
    let delay: Int
    var nodeSteps: [Int]
    var nextSnapshot: [Int]
    var snapshotSteps: [Int]
    var snapshotted: [Bool]

    init(averaging: AsyncAveraging, averageEvery: Int, delay: Int) {
        self.averaging = averaging
        self.averageEvery = averageEvery
        self.delay = delay
        let n = averaging.nodes.count
        nodeSteps = [Int](repeating: 0, count: n)
        nextSnapshot = [Int](repeating: averageEvery, count: n)
        snapshotSteps = [Int](repeating: 0, count: n)
        snapshotted = [Bool](repeating: false, count: n)
    }

    /// Counts one update of node `n` and advances the rounds as far as they go.
    mutating func nodeStepped(_ n: Int, communicator: Communicator, board: AsyncBoard) throws {
        nodeSteps[n] += 1
        var changed = true
        while changed {
            changed = false
            if !averaging.inFlight {
                for k in nodeSteps.indices where !snapshotted[k] && nodeSteps[k] >= nextSnapshot[k] {
                    takeSnapshot(k)
                    changed = true
                }
                if snapshotted.allSatisfy({ $0 }) {
                    try averaging.start(communicator)
                    changed = true
                }
            }
            if averaging.inFlight && nodeSteps.indices.allSatisfy({ nodeSteps[$0] - snapshotSteps[$0] >= delay }) {
                try complete(board: board)
                changed = true
            }
        }
    }

    /// At the end of training: completes a round in flight, or one some nodes have snapshotted
    /// (the others snapshot now).
    mutating func finish(communicator: Communicator, board: AsyncBoard) throws {
        if !averaging.inFlight {
            guard snapshotted.contains(true) else { return }
            for k in snapshotted.indices where !snapshotted[k] { takeSnapshot(k) }
            try averaging.start(communicator)
            board.locked { board.stats.forcedRounds += 1 }
        }
        try complete(board: board)
    }

    private mutating func takeSnapshot(_ k: Int) {
        averaging.snapshot(node: k)
        snapshotted[k] = true
        snapshotSteps[k] = nodeSteps[k]
        nextSnapshot[k] = nodeSteps[k] + averageEvery
    }

    private mutating func complete(board: AsyncBoard) throws {
        try averaging.wait()
        for k in nodeSteps.indices { averaging.apply(node: k) }
        averaging.finishRound()
        let stale = nodeSteps.indices.reduce(0) { $0 + nodeSteps[$1] - snapshotSteps[$1] }
        board.locked {
            board.stats.rounds += 1
            board.stats.updatesDuringRounds += stale
        }
        for k in snapshotted.indices { snapshotted[k] = false }
    }
}
