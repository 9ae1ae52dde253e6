/// The reductions over the buffers one process holds, in the same arithmetic as the in-process
/// backend (`GroupReduction` in Comm): element `i` of a group (w₀, …, w_{G−1}) is
/// `((w₀[i] + w₁[i]) + …) + w_{G−1}[i]` in `Float`, and the mean divides by `Float(G)`. A group
/// that lives inside one process therefore gives bitwise the in-process result.
///
/// Single-threaded on purpose: a rank usually owns one core, and these passes are memory bound
/// (one core saturates the memory bus). Blocks of `blockSize` floats keep the accumulator in L1 while the other
/// buffers are added and while it is copied out, so each buffer is read and written once.
enum LocalReduction {
    /// Floats per cache block (32 KB, the L1 data cache).
    static let blockSize = 8192

    /// Reduces every group of `groupSize` consecutive buffers and writes the result into each
    /// buffer of the group (`divisor` nil: sum; otherwise the sum divided by it).
    static func allReduce(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int, divisor: Float?) {
        if groupSize == 1 || count == 0 { return }
        for first in stride(from: 0, to: buffers.count, by: groupSize) {
            let members = Array(buffers[first..<(first + groupSize)])
            forEachBlock(count: count) { offset, n in
                sumBlock(members, offset: offset, count: n)
                finishBlock(members, offset: offset, count: n, divisor: divisor)
            }
        }
    }

    /// Adds buffers 1… into buffer 0, left to right, then multiplies by `scale` if given (the
    /// local part of a cross-rank reduction).
    static func sumIntoFirst(_ buffers: [UnsafeMutablePointer<Float>], count: Int, scale: Float?) {
        if count == 0 || (buffers.count == 1 && scale == nil) { return }
        forEachBlock(count: count) { offset, n in
            sumBlock(buffers, offset: offset, count: n)
            if let scale {
                let acc = buffers[0] + offset
                for i in 0..<n { acc[i] *= scale }
            }
        }
    }

    /// 1/G when scaling by it is exact (G a power of two), so that Σ(x/G) = (Σx)/G in every
    /// order of summation, barring results below the normal range.
    static func exactReciprocal(_ groupSize: Int) -> Float? {
        groupSize > 1 && groupSize & (groupSize - 1) == 0 ? 1 / Float(groupSize) : nil
    }

    /// Divides buffer 0 by `divisor` (if any) and copies it into buffers 1….
    static func finish(_ buffers: [UnsafeMutablePointer<Float>], count: Int, divisor: Float?) {
        if count == 0 || (buffers.count == 1 && divisor == nil) { return }
        forEachBlock(count: count) { offset, n in finishBlock(buffers, offset: offset, count: n, divisor: divisor) }
    }

    /// Divides `count` floats at `values` by `divisor`, in the arithmetic of `finish`.
    static func divide(_ values: UnsafeMutablePointer<Float>, count: Int, by divisor: Float) {
        let n = count
        if divisor.significandBitPattern == 0 && divisor.isNormal && (1 / divisor).isNormal {
            let scale = 1 / divisor
            for i in 0..<n { values[i] *= scale }
        } else {
            for i in 0..<n { values[i] /= divisor }
        }
    }

    /// Copies buffer `source` into every other buffer.
    static func copy(from source: Int, _ buffers: [UnsafeMutablePointer<Float>], count: Int) {
        for (w, target) in buffers.enumerated() where w != source {
            target.update(from: buffers[source], count: count)
        }
    }

    private static func forEachBlock(count: Int, _ body: (_ offset: Int, _ count: Int) -> Void) {
        var offset = 0
        while offset < count {
            let n = min(blockSize, count - offset)
            body(offset, n)
            offset += n
        }
    }

    private static func sumBlock(_ members: [UnsafeMutablePointer<Float>], offset: Int, count n: Int) {
        let acc = members[0] + offset
        for w in 1..<members.count {
            let x = UnsafePointer(members[w] + offset)
            for i in 0..<n { acc[i] += x[i] }
        }
    }

    /// x / 2^k and x · 2^-k are the same correctly rounded value, and the product is cheaper.
    private static func finishBlock(_ members: [UnsafeMutablePointer<Float>], offset: Int, count n: Int, divisor: Float?) {
        let acc = members[0] + offset
        if let divisor { divide(acc, count: n, by: divisor) }
        for w in 1..<members.count { (members[w] + offset).update(from: acc, count: n) }
    }
}
