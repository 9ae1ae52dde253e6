import Algorithms
import Comm
import Config
import Foundation
import NN
import Optim
import Tensor

extension Trainer {
    /// Brings the present workers up to date for iteration `globalStep` (`--faults`): the
    /// strategy then sees only them, as a world of P workers (`activeWorkers`,
    /// `activeCommunicator`: reductions over them in worker order, means divided by P, modelled
    /// on the network among P). With `joining`, a worker that returns starts from the present
    /// workers' state (`initializeJoiner`); a resumed run skips it, since the checkpoint was
    /// written after the join. Called between iterations, where the membership may change; it
    /// allocates only when it does (or, without `joining`, once at the start of a run).
    func updateMembership(joining: Bool) throws {
        guard let absences, !joining || absences.changes(at: globalStep) else { return }
        let present = absences.present(at: globalStep)
        if present == members && activeWorkers.count == present.count { return }
        let stayed = members.filter(present.contains)
        if joining {
            for j in present where !members.contains(j) {
                initializeJoiner(j, from: stayed.isEmpty ? members : stayed)
            }
        }
        members = present
        activeWorkers = WorkerSet(parameters: present.map { workerSet.parameters[$0] }, gradients: present.map { workerSet.gradients[$0] },
                                  state: present.map { workerSet.state[$0] }, momentum: present.map { workerSet.momentum[$0] },
                                  parameterCount: workerSet.parameterCount, stateCount: workerSet.stateCount,
                                  optimizerStates: present.map { optimizerStates[$0] })
        activeCommunicator = try communicator(of: present)
    }

    /// The communicator of the workers `present`: the run's own when all are there, else an
    /// in-process one of just them, with the run's latency and network model.
    private func communicator(of present: [Int]) throws -> Communicator {
        if present.count == communicator.workers { return communicator }
        if let known = subsetCommunicators[present] { return known }
        let made = try Trainer.wrap(InProcessCommunicator(workers: present.count, threads: config.execution.threads), config: config)
        subsetCommunicators[present] = made
        return made
    }

    /// `base` with `--inject-latency` and the `--network` model applied, as the trainer's own.
    static func wrap(_ base: Communicator, config: RunConfig) throws -> Communicator {
        var communicator = base
        if config.execution.injectLatency > 0 { communicator = DelayedCommunicator(communicator, latency: config.execution.injectLatency) }
        if let text = config.execution.network {
            do {
                communicator = ModelledCommunicator(communicator, network: try NetworkModel(parsing: text))
            } catch let e as CommError {
                throw TrainingError("--network: \(e.description)")
            }
        }
        return communicator
    }

    /// Worker `joiner` takes the state of `sources` (the workers present before it returns):
    /// their weights and BatchNorm statistics, summed in worker order and divided by their number
    /// (copied when they are all equal, as under minibatch SGD, so that the copy is exact); under
    /// SlowMo and DiLoCo its weights are the anchor x₀ instead, so its pseudo-gradient starts at
    /// zero. Its optimizer state starts fresh (no momentum, Adam's moments and step count zero).
    /// Its modelled clock starts when the latest source has arrived, plus one transfer of the
    /// weights.
    func initializeJoiner(_ joiner: Int, from sources: [Int]) {
        let target = replicas[joiner]
        for buffer in [\Replica.parameters, \Replica.state] {
            let pointers = sources.map { replicas[$0][keyPath: buffer].pointer }
            let count = target[keyPath: buffer].count
            let first = pointers[0]
            if pointers.allSatisfy({ memcmp($0, first, count * MemoryLayout<Float>.size) == 0 }) {
                target[keyPath: buffer].pointer.update(from: first, count: count)
            } else {
                OrderedSum.reduce(pointers[...], into: target[keyPath: buffer].pointer, offset: 0, count: count,
                                  divisor: Float(pointers.count))
            }
        }
        if let anchor = (strategy as? OuterOptimization)?.anchorWeights {
            target.parameters.pointer.update(from: anchor, count: target.parameters.count)
        }
        optimizerStates[joiner].reset()
        if let network = (communicator as? ModelledCommunicator)?.network {
            let bytes = Double(MemoryLayout<Float>.size * (target.parameters.count + target.state.count))
            clocks?.join(joiner, present: sources,
                         transfer: network.interNode.latency + bytes / network.interNode.bandwidth)
        }
    }
}
