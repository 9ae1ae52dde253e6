import Training

/// Sums over the iterations of the current epoch, over all local worker threads.
struct AsyncEpochSums {
    var steps = 0
    var lossSum: Double = 0
    var correct = 0
    var samples = 0
    var data: Double = 0
    var forward: Double = 0
    var backward: Double = 0
    var optimizer: Double = 0
    /// Seconds the threads were held up by averaging (summed over threads).
    var wait: Double = 0

    /// Seconds of computing (data, forward, backward, optimizer), summed over the threads.
    var compute: Double { data + forward + backward + optimizer }

    mutating func add(_ s: WorkerStep, batchSize: Int) {
        steps += 1
        lossSum += Double(s.loss)
        correct += s.correct
        samples += batchSize
        data += s.data
        forward += s.forward
        backward += s.backward
        optimizer += s.optimizer
    }

    static func + (a: AsyncEpochSums, b: AsyncEpochSums) -> AsyncEpochSums {
        var r = a
        r.steps += b.steps
        r.lossSum += b.lossSum
        r.correct += b.correct
        r.samples += b.samples
        r.data += b.data
        r.forward += b.forward
        r.backward += b.backward
        r.optimizer += b.optimizer
        r.wait += b.wait
        return r
    }

    /// The epoch's wall-clock `wall` split in proportion to the threads' measured times
    /// (parallel work charged by wall-clock, as `TimeBreakdown` says).
    func breakdown(wall: Double) -> TimeBreakdown {
        var t = TimeBreakdown()
        let total = data + forward + backward + optimizer + wait
        guard total > 0 else { t.communication = wall; return t }
        t.data = wall * data / total
        t.forward = wall * forward / total
        t.backward = wall * backward / total
        t.optimizer = wall * optimizer / total
        t.communication = wall * wait / total
        return t
    }
}
