/// The additions of `OrderedReduction`, block by block so that the accumulator stays in L1.
extension OrderedReduction {
    /// b₀ ← ((b₀ + b₁) + …) + b_{W−1} over `count` floats at `offset` (rank 0's part: it starts the sum).
    static func fold(_ b: [UnsafeMutablePointer<Float>], offset: Int, count: Int) {
        guard b.count > 1 else { return }
        forEachBlock(count: count) { lo, n in
            let acc = b[0] + offset + lo
            for w in 1..<b.count {
                let x = UnsafePointer(b[w] + offset + lo)
                for i in 0..<n { acc[i] += x[i] }
            }
        }
    }

    /// b₀ ← ((s + b₀) + b₁) + … + b_{W−1} over `count` floats at `offset`, where `s` holds the
    /// partial sum of the workers before this rank's; with a divisor the last addend and the
    /// division are one expression, `(acc + last) / divisor`, as in `GroupReduction`.
    static func add(_ s: UnsafePointer<Float>, into b: [UnsafeMutablePointer<Float>], offset: Int, count: Int,
                    divisor: Float?) {
        let last = b.count - 1
        forEachBlock(count: count) { lo, n in
            let acc = b[0] + offset + lo, partial = s + lo
            if last == 0 {  // b₀ is both the first and the last addend
                if let d = divisor { for i in 0..<n { acc[i] = (partial[i] + acc[i]) / d } }
                else { for i in 0..<n { acc[i] = partial[i] + acc[i] } }
                return
            }
            for i in 0..<n { acc[i] = partial[i] + acc[i] }
            for w in 1..<last {
                let x = UnsafePointer(b[w] + offset + lo)
                for i in 0..<n { acc[i] += x[i] }
            }
            let x = UnsafePointer(b[last] + offset + lo)
            if let d = divisor { for i in 0..<n { acc[i] = (acc[i] + x[i]) / d } }
            else { for i in 0..<n { acc[i] += x[i] } }
        }
    }

    static func forEachBlock(count: Int, _ body: (_ offset: Int, _ count: Int) -> Void) {
        var offset = 0
        while offset < count {
            let n = min(blockSize, count - offset)
            body(offset, n)
            offset += n
        }
    }
}
