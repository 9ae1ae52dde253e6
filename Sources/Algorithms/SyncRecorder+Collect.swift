import Comm
import Tensor

extension SyncRecorder {
    /// The records of the synchronizations since the last call, in order, and forgets them. A
    /// collective: every process calls it at the same point, and all get the same records.
    /// The partial sums travel as exact bit patterns (`Communicator.gatherIntegers`), which the
    /// communicators do not count as training traffic.
    public func collect(_ communicator: Communicator) throws -> [SyncRecord] {
        let local = localWorkers.count
        var starts: [Int] = []
        starts.reserveCapacity(pending.count)
        var at = 0
        for p in pending {
            starts.append(at)
            at += p.partialCount
        }
        var all: [[SyncStatistics.Partial]] = pending.indices.map { r in Array(partials[starts[r]..<(starts[r] + pending[r].partialCount)]) }
        if communicator.processCount > 1 {
            // Over MPI every worker takes part in every synchronization (`--faults` is in-process only).
            guard pending.allSatisfy({ $0.partialCount == local }) else {
                throw CommError("a synchronization record over MPI lacks some of this process's \(local) workers")
            }
            var values = [localWorkers.lowerBound, pending.count]
            values.reserveCapacity(2 + 3 * partials.count)
            for p in partials {
                values += [p.distanceToMean, p.update, p.groupMeanUpdate].map { Int(Int64(bitPattern: $0.bitPattern)) }
            }
            let gathered = try communicator.gatherIntegers(values).sorted { $0[0] < $1[0] }
            guard gathered.allSatisfy({ $0[1] == pending.count && $0.count == values.count }),
                  gathered.map({ $0[0] }) == Array(stride(from: 0, to: workers, by: local)) else {
                throw CommError("the processes recorded different synchronizations (\(gathered.map { $0[1] }) records); their training diverged")
            }
            all = pending.indices.map { r in
                gathered.flatMap { process -> [SyncStatistics.Partial] in
                    (0..<local).map { k in
                        let at = 2 + 3 * (r * local + k)
                        func value(_ i: Int) -> Double { Double(bitPattern: UInt64(bitPattern: Int64(process[at + i]))) }
                        return SyncStatistics.Partial(distanceToMean: value(0), update: value(1), groupMeanUpdate: value(2))
                    }
                }
            }
        }
        let records = zip(pending, all).map { p, partials -> SyncRecord in
            let s = SyncStatistics.combine(partials, groupSize: p.groupSize, anchored: p.anchored)
            return SyncRecord(step: p.step, epoch: Double(p.step + 1) / Double(stepsPerEpoch), kind: p.kind, level: p.groupSize,
                              global: p.global, bytes: p.bytes, effectiveH: p.effectiveH,
                              pseudoGradientNorm: s.anchorDistance, consensusDistance: s.consensusDistance,
                              updateCosine: s.updateCosine, outerMomentumNorm: p.outerMomentumNorm, codecError: p.codecError,
                              fragment: p.fragment, workers: p.workers)
        }
        pending.removeAll(keepingCapacity: true)
        partials.removeAll(keepingCapacity: true)
        return records
    }

    /// The counters a checkpoint keeps (records still pending are not: collect them first).
    public var state: State {
        State(lastSyncSteps: levels.map(\.lastSyncStep), anchored: levels.map(\.anchored), anchorsPending: anchorsPending,
              lastGradientStep: lastGradientStep)
    }

    /// The anchors by checkpoint name, "syncs.<G>.<group>.anchor" (global group index).
    public func anchorBuffers() -> [String: [Float]] {
        var buffers: [String: [Float]] = [:]
        for level in levels {
            let first = localWorkers.lowerBound / level.groupSize
            for (j, anchor) in level.anchors.enumerated() where level.anchored {
                buffers["syncs.\(level.groupSize).\(first + j).anchor"] = anchor.array
            }
        }
        return buffers
    }

    /// Continues from a checkpoint's `state` and buffers. Without a state (a checkpoint from
    /// before the record) the anchors are unknown until each level's next average.
    public func restore(_ state: State?, buffers: [String: [Float]]) throws {
        guard let state else {
            for l in levels.indices { levels[l].anchored = false; levels[l].lastSyncStep = nil }
            anchorsPending = false
            lastGradientStep = nil
            return
        }
        guard state.lastSyncSteps.count == levels.count, state.anchored.count == levels.count else {
            throw StrategyError("its record of synchronizations has \(state.lastSyncSteps.count) levels, this run \(levels.count)")
        }
        for l in levels.indices {
            levels[l].lastSyncStep = state.lastSyncSteps[l]
            levels[l].anchored = state.anchored[l]
            guard state.anchored[l] else { continue }
            let first = localWorkers.lowerBound / levels[l].groupSize
            for (j, anchor) in levels[l].anchors.enumerated() {
                let name = "syncs.\(levels[l].groupSize).\(first + j).anchor"
                guard let values = buffers[name], values.count == count else {
                    throw StrategyError("the checkpoint lacks tensor '\(name)' of \(count) values")
                }
                anchor.load(values)
            }
        }
        anchorsPending = state.anchorsPending
        lastGradientStep = state.lastGradientStep
    }
}
