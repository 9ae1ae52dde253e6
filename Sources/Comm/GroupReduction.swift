import Tensor

/// The in-process reduction kernels: element-wise reduce over the buffers of each group in a
/// fixed order, and copy one buffer into many, both blocked for the cache.
///
/// The arithmetic for element `i` of a group (w₀, …, w_{G−1}) is always
/// `((w₀[i] + w₁[i]) + w₂[i]) + … + w_{G−1}[i]`, accumulated left to right in `Float`, then for
/// the mean divided by `Float(G)` (a correctly rounded division, not a multiplication by 1/G;
/// the two agree whenever G is a power of two). How the element range is split across threads
/// never changes that order, so results are bitwise identical for any thread count.
///
/// Memory traffic: the range is processed in blocks of `blockSize` floats; a block of w₀ is the
/// accumulator and stays in cache while the other buffers are added into it and while it is
/// copied out, so every buffer is read once and written once (averaging is memory
/// bound).
enum GroupReduction {
    /// Floats per cache block (32 KB, the L1 data cache of the machines we run on).
    static let blockSize = 8192
    /// Below this many floats per thread, extra threads cost more than they save.
    static let minimumFloatsPerThread = 1 << 15

    enum Operation { case sum, mean }

    /// Reduces every group of `groupSize` consecutive buffers and writes the result into each
    /// buffer of the group. The caller has validated the arguments.
    static func allReduce(
        _ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int,
        operation: Operation, pool: ThreadPool
    ) {
        if groupSize == 1 || count == 0 { return }  // the reduction of one buffer is itself
        let box = UncheckedSendable(buffers)  // disjoint element ranges per chunk
        forEachChunk(count: count, pool: pool) { range in
            var group = 0
            while group < box.value.count {
                let members = box.value[group..<(group + groupSize)]
                var lo = range.lowerBound
                while lo < range.upperBound {
                    let n = min(blockSize, range.upperBound - lo)
                    reduceBlock(members, offset: lo, count: n, operation: operation)
                    lo += n
                }
                group += groupSize
            }
        }
    }

    /// Copies `buffers[root]` into every other buffer.
    static func broadcast(_ buffers: [UnsafeMutablePointer<Float>], count: Int, root: Int, pool: ThreadPool) {
        if buffers.count == 1 || count == 0 { return }
        let box = UncheckedSendable(buffers)  // disjoint element ranges per chunk
        forEachChunk(count: count, pool: pool) { range in
            var lo = range.lowerBound
            while lo < range.upperBound {
                let n = min(blockSize, range.upperBound - lo)
                let source = box.value[root] + lo
                for (w, target) in box.value.enumerated() where w != root {
                    (target + lo).update(from: source, count: n)
                }
                lo += n
            }
        }
    }

    /// Splits 0..<count into at most `pool.lanes` contiguous, block-aligned ranges run in parallel.
    private static func forEachChunk(count: Int, pool: ThreadPool, _ body: (Range<Int>) -> Void) {
        let chunks = max(1, min(pool.lanes, count / minimumFloatsPerThread))
        if chunks == 1 { body(0..<count); return }
        let blocks = (count + blockSize - 1) / blockSize
        let blocksPerChunk = (blocks + chunks - 1) / chunks
        pool.run(chunks) { c, _ in
            let lo = c * blocksPerChunk * blockSize
            let hi = min(count, lo + blocksPerChunk * blockSize)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// One block of one group: accumulate into the first member, finish, copy to the others.
    private static func reduceBlock(
        _ members: ArraySlice<UnsafeMutablePointer<Float>>, offset: Int, count n: Int, operation: Operation
    ) {
        let acc = members[members.startIndex] + offset
        for w in (members.startIndex + 1)..<(members.endIndex - 1) {
            let x = UnsafePointer(members[w] + offset)
            for i in 0..<n { acc[i] += x[i] }
        }
        // The last addend and the division share one pass over the accumulator.
        let last = UnsafePointer(members[members.endIndex - 1] + offset)
        switch operation {
        case .sum:
            for i in 0..<n { acc[i] += last[i] }
        case .mean:
            let divisor = Float(members.count)
            for i in 0..<n { acc[i] = (acc[i] + last[i]) / divisor }
        }
        for w in (members.startIndex + 1)..<members.endIndex {
            (members[w] + offset).update(from: acc, count: n)
        }
    }
}
