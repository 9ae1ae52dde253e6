import Tensor

/// The in-process reductions: every group of consecutive buffers reduced by the fixed-order
/// kernel `OrderedSum` (its comment gives the arithmetic), and one buffer copied into many, both
/// in cache blocks and with the element range split across threads. How the range is split never
/// changes the order of the additions, so results are bitwise identical for any thread count.
enum GroupReduction {
    /// Floats per cache block, the kernel's.
    static let blockSize = OrderedSum.blockSize
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
        let divisor: Float? = operation == .mean ? Float(groupSize) : nil
        forEachChunk(count: count, pool: pool) { range in
            var group = 0
            while group < box.value.count {
                let members = box.value[group..<(group + groupSize)]
                OrderedSum.reduce(members, into: members[members.startIndex], offset: range.lowerBound,
                                  count: range.count, divisor: divisor, copies: members)
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
}
