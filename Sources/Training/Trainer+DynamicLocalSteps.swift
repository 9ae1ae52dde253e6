import Algorithms
import Data

extension Trainer {
    /// Sets `computing` for iteration `globalStep` (`--dynamic-local-steps`): the present workers
    /// whose H_k steps of the current period are not done yet. Allocates nothing.
    func updateComputing() {
        guard let dylu = dynamicLocalSteps else { return }
        if !currentPeriod.contains(globalStep) {
            currentPeriod = currentPeriod.upperBound == globalStep
                ? dylu.period(from: globalStep) : dylu.period(containing: globalStep)
        }
        let first = communicator.localWorkers.lowerBound
        computing.removeAll(keepingCapacity: true)
        for k in members where dylu.computes(worker: first + k, step: globalStep, in: currentPeriod) { computing.append(k) }
    }

    /// After an iteration: the workers that computed have taken one more step.
    func countLocalSteps(_ working: [Int]) {
        guard dynamicLocalSteps != nil else { return }
        for k in working { localStepsTaken[k] += 1 }
    }

    /// Where local worker `k` reads its next batch: the epoch whose shuffle and split it is in,
    /// and the batch of its shard. Without DyLU every worker reads batch t mod S of epoch
    /// ⌊t/S⌋ at iteration t (S iterations per epoch); with DyLU a worker's position counts only
    /// the steps it took, so a worker at half the fastest's steps reads its shard of each epoch
    /// over two of the run's epochs. Its augmentation and layer randomness are keyed by the same
    /// position, so they too wait while it is idle.
    func dataPosition(_ k: Int) -> (epoch: Int, step: Int) {
        let n = dynamicLocalSteps == nil ? globalStep : localStepsTaken[k]
        return (n / stepsPerEpoch, n % stepsPerEpoch)
    }

    /// Makes sure `dataPlans` holds the plan of every local worker's data epoch and no other;
    /// allocates only when a worker enters a new epoch.
    func prepareDataPlans() throws {
        var added = false
        for k in replicas.indices {
            let epoch = dataPosition(k).epoch
            if !dataPlans.contains(where: { $0.epoch == epoch }) {
                dataPlans.append(try setup.plan(epoch: epoch))
                added = true
            }
        }
        if added {
            dataPlans.removeAll { plan in !replicas.indices.contains { dataPosition($0).epoch == plan.epoch } }
        }
    }

    /// After a restore at `globalStep`: each worker's steps so far, from the periods alone.
    func restoreLocalStepsTaken() {
        currentPeriod = 0..<0
        dataPlans = []
        guard let dylu = dynamicLocalSteps else { return }
        localStepsTaken = dylu.stepsTaken(before: globalStep, workers: communicator.localWorkers)
    }

    /// Samples the workers drew over the whole run, with DyLU (nil without it: every worker
    /// drew a batch at every iteration).
    var workerStepsTaken: Int? {
        dynamicLocalSteps == nil ? nil : localStepsTaken.reduce(0, +)
    }
}
