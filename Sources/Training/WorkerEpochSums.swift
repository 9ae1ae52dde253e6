import Comm

/// One worker's training sums over the current epoch so far: its loss at each iteration, the
/// samples it classified correctly and the samples it drew.
///
/// They are kept per worker, not per process, so that a checkpoint taken in the middle of an
/// epoch continues under any layout of the workers over processes: each worker's sums travel in
/// its own checkpoint file. The epoch's training loss adds the losses iteration by iteration, and
/// in each iteration worker by worker (`lossSum`), the order in which the lockstep trainer of one
/// process has always added them, so that every layout gives that one's bits (Float32 losses, a
/// Double sum, which is not associative).
package struct WorkerEpochSums: Equatable, Sendable {
    /// The worker's loss at each iteration of the epoch so far; NaN where it was away (`--faults`).
    package var losses: [Float] = []
    package var correct = 0
    package var samples = 0
    /// A partial loss sum of a process that a checkpoint of an older version held instead of the
    /// losses (put on the process's first worker), added before the losses; 0 otherwise.
    package var carriedLoss: Double = 0

    package init(losses: [Float] = [], correct: Int = 0, samples: Int = 0, carriedLoss: Double = 0) {
        self.losses = losses
        self.correct = correct
        self.samples = samples
        self.carriedLoss = carriedLoss
    }

    /// Empty, for the next epoch, keeping the room of `losses` (no iteration allocates).
    package mutating func reset() {
        losses.removeAll(keepingCapacity: true)
        correct = 0
        samples = 0
        carriedLoss = 0
    }

    /// The sum of the losses of `workers` (in worker order): the carried sums first, then for
    /// each iteration every present worker's loss in worker order.
    package static func lossSum(_ workers: [WorkerEpochSums]) -> Double {
        var sum = 0.0, steps = 0
        for w in workers {
            sum += w.carriedLoss
            steps = max(steps, w.losses.count)
        }
        for i in 0..<steps {
            for w in workers where i < w.losses.count && !w.losses[i].isNaN { sum += Double(w.losses[i]) }
        }
        return sum
    }

    // MARK: - Across processes

    /// The sums as integers for `Communicator.gatherIntegers`: carried sum (bit pattern),
    /// correct, samples, the number of losses, then each loss's bit pattern.
    package var integers: [Int] {
        [Int(Int64(bitPattern: carriedLoss.bitPattern)), correct, samples, losses.count] + losses.map { Int($0.bitPattern) }
    }

    /// Every process's workers' sums, in worker order (processes hold consecutive workers, in
    /// rank order), gathered from each process's `local` sums.
    package static func gather(_ local: [WorkerEpochSums], _ comm: Communicator) throws -> [WorkerEpochSums] {
        let all = try CheckpointAgreement.gatherVariable(local.flatMap(\.integers), comm)
        return try all.flatMap { values -> [WorkerEpochSums] in
            var at = 0, result: [WorkerEpochSums] = []
            while at < values.count {
                guard at + 4 <= values.count, values[at + 3] >= 0, at + 4 + values[at + 3] <= values.count else {
                    throw TrainingError("the epoch sums gathered from the processes are malformed (a rank sent a cut list)")
                }
                let n = values[at + 3]
                let losses = values[(at + 4)..<(at + 4 + n)].map { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }
                result.append(WorkerEpochSums(losses: losses, correct: values[at + 1], samples: values[at + 2],
                                              carriedLoss: Double(bitPattern: UInt64(bitPattern: Int64(values[at])))))
                at += 4 + n
            }
            return result
        }
    }
}
