import Tensor

/// The fixed-order reduction kernel of every backend (in-process `GroupReduction`, the MPI
/// backend's local and ordered reductions) and of the trainers' evaluation average.
///
/// For each element i of the range, with sources (s₀, …, s_{n−1}), all `Float` buffers:
///
///     target[i] ← (((s₀[i] + s₁[i]) + s₂[i]) + … + s_{n−1}[i]) / divisor
///
/// accumulated left to right in `Float`; without a divisor the sum itself. The division is
/// correctly rounded (done as a product by `Float.exactReciprocal` when the divisor is a power of
/// two: the same value). The last addition and the division are one expression, so no order
/// of blocks, threads or ranks changes a bit of the result.
///
/// Memory traffic: the range is processed in blocks of `blockSize` floats; the block of `target`
/// stays in L1 while the sources are added into it and while it is copied into `copies`, so every
/// buffer is read once and written once (reductions are memory bound).
public enum OrderedSum {
    /// Floats per cache block (32 KB, the L1 data cache of the machines we run on).
    public static let blockSize = 8192

    /// Reduces elements `offset ..< offset + count` of `sources` into the same elements of
    /// `target`, then copies them into every buffer of `copies` other than `target`.
    /// `target` may be `sources[0]` or `sources[1]` (each element of those is read before it is
    /// written) but no later source. `sources` must not be empty.
    public static func reduce(
        _ sources: ArraySlice<UnsafeMutablePointer<Float>>, into target: UnsafeMutablePointer<Float>,
        offset: Int, count: Int, divisor: Float? = nil, copies: ArraySlice<UnsafeMutablePointer<Float>> = []
    ) {
        precondition(!sources.isEmpty, "OrderedSum.reduce: no sources")
        var lo = offset
        let end = offset + count
        while lo < end {
            let n = min(blockSize, end - lo)
            reduceBlock(sources, into: target + lo, offset: lo, count: n, divisor: divisor)
            for c in copies where c != target { (c + lo).update(from: target + lo, count: n) }
            lo += n
        }
    }

    /// Divides `count` floats at `values` by `divisor` in place, in the kernel's arithmetic.
    public static func divide(_ values: UnsafeMutablePointer<Float>, count n: Int, by divisor: Float) {
        if let r = divisor.exactReciprocal { for i in 0..<n { values[i] *= r } } else { for i in 0..<n { values[i] /= divisor } }
    }

    /// One block: the first addition writes `acc`, the middle sources add into it, the last
    /// addition shares its pass with the division.
    @inline(__always)
    private static func reduceBlock(
        _ sources: ArraySlice<UnsafeMutablePointer<Float>>, into acc: UnsafeMutablePointer<Float>,
        offset: Int, count n: Int, divisor: Float?
    ) {
        let first = UnsafePointer(sources[sources.startIndex] + offset)
        if sources.count == 1 {
            if let divisor {
                if let r = divisor.exactReciprocal { for i in 0..<n { acc[i] = first[i] * r } }
                else { for i in 0..<n { acc[i] = first[i] / divisor } }
            } else if UnsafePointer(acc) != first {
                acc.update(from: first, count: n)
            }
            return
        }
        let lastIndex = sources.endIndex - 1
        let second = UnsafePointer(sources[sources.startIndex + 1] + offset)
        if sources.count > 2 {
            for i in 0..<n { acc[i] = first[i] + second[i] }
            for w in (sources.startIndex + 2)..<lastIndex {
                let x = UnsafePointer(sources[w] + offset)
                for i in 0..<n { acc[i] += x[i] }
            }
        }
        // The last addend: `acc` here is the running sum (or, with two sources, the first one).
        let running = sources.count > 2 ? UnsafePointer(acc) : first
        let last = UnsafePointer(sources[lastIndex] + offset)
        if let divisor {
            if let r = divisor.exactReciprocal { for i in 0..<n { acc[i] = (running[i] + last[i]) * r } }
            else { for i in 0..<n { acc[i] = (running[i] + last[i]) / divisor } }
        } else {
            for i in 0..<n { acc[i] = running[i] + last[i] }
        }
    }
}
