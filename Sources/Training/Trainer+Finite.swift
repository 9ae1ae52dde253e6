import NN
import RunFiles

extension Trainer {
    /// The iteration just done as the progress line counts it: epoch and step within it, from 1.
    var position: String {
        "by epoch \(max(0, globalStep - 1) / stepsPerEpoch + 1), step \(max(0, globalStep - 1) % stepsPerEpoch + 1)"
    }

    /// The first NaN or infinity in this process's workers: weights, BatchNorm statistics, momentum.
    func firstNonFiniteValue() -> FiniteCheck.Finding? {
        for (k, replica) in replicas.enumerated() {
            let owner = "worker \(communicator.localWorkers.lowerBound + k)'s "
            if let finding = FiniteCheck.check(replica, network: network, owner: owner)
                ?? FiniteCheck.check(optimizerStates[k].momentum, layout: network.layout.slots, owner: owner, suffix: " momentum") {
                return finding
            }
        }
        return nil
    }

    /// Refuses a non-finite test loss at the end of `epoch` (0-based) before it enters the
    /// metrics, a checkpoint's history or summary.json.
    func checkTestLoss(_ loss: Double, epoch: Int) throws {
        guard loss.isFinite else {
            throw TrainingError("the test loss of the averaged model became \(loss) at the end of epoch \(epoch + 1); \(divergenceAdvice)")
        }
    }
}
