import Tensor

/// Which samples each worker reads in one epoch: lines 3 and 6 of Algorithm 2 in the study
/// (shuffle 𝒟 every epoch; worker k's m-th batch starts at o = (m−1)B + (k−1)SB, i.e. each
/// worker reads its own contiguous shard). Every epoch the whole dataset is permuted with
/// `RandomGenerator(seed:, stream: [Stream.shuffle, epoch])` (identity order when not
/// shuffling), then cut into `workers` contiguous shards of `sampleCount / workers` samples;
/// worker k reads full batches from shard k in order.
///
/// Unlike the paper's S = ⌈N/(BK)⌉, only full batches are read (S = ⌊⌊N/K⌋/B⌋), so every
/// step has the same batch shape; the < K samples left over by the split and each shard's
/// partial batch sit this epoch out (a different set each epoch when shuffling). When B·K
/// divides N the two agree. The plan is a pure function of its inputs, so a resumed run
/// recomputes the same plan.
public struct EpochPlan: Sendable {
    public let sampleCount: Int
    public let workers: Int
    public let batchSize: Int
    public let epoch: Int
    /// Samples in each worker's shard: `sampleCount / workers`.
    public let shardSize: Int
    /// Full batches per worker, the same for every worker: `shardSize / batchSize`.
    public let stepsPerEpoch: Int
    /// The epoch's permutation of 0..<sampleCount (the identity without shuffling).
    public let order: [Int]

    public init(sampleCount: Int, workers: Int, batchSize: Int, epoch: Int, seed: UInt64, shuffle: Bool) throws {
        guard workers >= 1 else { throw DataError("the number of workers is \(workers); it must be at least 1.") }
        guard batchSize >= 1 else { throw DataError("the batch size is \(batchSize); it must be at least 1.") }
        guard epoch >= 0 else { throw DataError("the epoch is \(epoch); it must be at least 0.") }
        precondition(sampleCount >= 0, "EpochPlan: negative sample count")
        let shardSize = sampleCount / workers
        guard shardSize / batchSize >= 1 else {
            throw DataError(
                "dataset of \(sampleCount) samples is too small for \(workers) workers × batch \(batchSize): "
                    + "each worker needs at least one full batch per epoch.")
        }
        self.sampleCount = sampleCount
        self.workers = workers
        self.batchSize = batchSize
        self.epoch = epoch
        self.shardSize = shardSize
        self.stepsPerEpoch = shardSize / batchSize
        if shuffle {
            var rng = RandomGenerator(seed: seed, stream: [Stream.shuffle, UInt64(epoch)])
            order = rng.permutation(sampleCount)
        } else {
            order = Array(0..<sampleCount)
        }
    }

    /// The `batchSize` dataset indices worker `worker` reads at step `step` of this epoch.
    public func indices(worker: Int, step: Int) -> ArraySlice<Int> {
        precondition((0..<workers).contains(worker), "EpochPlan: worker \(worker) not in 0..<\(workers)")
        precondition((0..<stepsPerEpoch).contains(step), "EpochPlan: step \(step) not in 0..<\(stepsPerEpoch)")
        let start = worker * shardSize + step * batchSize
        return order[start..<(start + batchSize)]
    }
}
