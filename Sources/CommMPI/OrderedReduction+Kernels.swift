import Comm

/// The additions of `OrderedReduction`, by the fixed-order kernel (in cache blocks).
extension OrderedReduction {
    /// b₀ ← ((b₀ + b₁) + …) + b_{W−1} over `count` floats at `offset` (rank 0's part: it starts
    /// the sum), by the fixed-order kernel `OrderedSum`.
    static func fold(_ b: [UnsafeMutablePointer<Float>], offset: Int, count: Int) {
        guard b.count > 1 else { return }
        OrderedSum.reduce(b[...], into: b[0], offset: offset, count: count)
    }

    /// b₀ ← ((s + b₀) + b₁) + … + b_{W−1} over `count` floats at `offset`, where `s` holds the
    /// partial sum of the workers before this rank's (at its start, not at `offset`); with a
    /// divisor the last addend and the division are one expression, by `OrderedSum`.
    static func add(_ s: UnsafePointer<Float>, into b: [UnsafeMutablePointer<Float>], offset: Int, count: Int,
                    divisor: Float?) {
        // The kernel reads every source at one offset: start the buffers at `offset` instead.
        let sources = [UnsafeMutablePointer(mutating: s)] + b.map { $0 + offset }
        OrderedSum.reduce(sources[...], into: sources[1], offset: 0, count: count, divisor: divisor)
    }
}
