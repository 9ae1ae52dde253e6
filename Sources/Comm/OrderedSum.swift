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
                if let r = divisor.exactReciprocal { scale(acc, first, count: n) { $0 * r } }
                else { scale(acc, first, count: n) { $0 / divisor } }
            } else if UnsafePointer(acc) != first {
                acc.update(from: first, count: n)
            }
            return
        }
        let last = UnsafePointer(sources[sources.endIndex - 1] + offset)
        // With two sources the first addition is the last one; `running` is then the first source.
        var running = first
        if sources.count > 2 {
            add(acc, first, UnsafePointer(sources[sources.startIndex + 1] + offset), count: n) { $0 }
            for w in (sources.startIndex + 2)..<(sources.endIndex - 1) {
                add(acc, UnsafePointer(acc), UnsafePointer(sources[w] + offset), count: n) { $0 }
            }
            running = UnsafePointer(acc)
        }
        if let divisor {
            if let r = divisor.exactReciprocal { add(acc, running, last, count: n) { $0 * r } }
            else { add(acc, running, last, count: n) { $0 / divisor } }
        } else {
            add(acc, running, last, count: n) { $0 }
        }
    }

    /// acc[i] ← finish(a[i] + b[i]). `acc` may be `a` or `b`: each case has its own loop that
    /// reads through `acc`, so the compiler sees the element it stores is the one it loaded and
    /// vectorises (a runtime overlap check between equal pointers would fall back to scalar code).
    @inline(__always)
    private static func add(_ acc: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            count n: Int, _ finish: (Float) -> Float) {
        if UnsafePointer(acc) == a { for i in 0..<n { acc[i] = finish(acc[i] + b[i]) } }
        else if UnsafePointer(acc) == b { for i in 0..<n { acc[i] = finish(a[i] + acc[i]) } }
        else { for i in 0..<n { acc[i] = finish(a[i] + b[i]) } }
    }

    /// acc[i] ← finish(a[i]), in place when `acc` is `a`.
    @inline(__always)
    private static func scale(_ acc: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, count n: Int,
                              _ finish: (Float) -> Float) {
        if UnsafePointer(acc) == a { for i in 0..<n { acc[i] = finish(acc[i]) } }
        else { for i in 0..<n { acc[i] = finish(a[i]) } }
    }
}
