/// Element-wise and reduction kernels over raw buffers. Reductions use several SIMD
/// accumulators because Float reductions do not auto-vectorise.
public enum Vector {
    /// Σ x[i]·y[i]
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            let x0 = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let y0 = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            let x1 = UnsafeRawPointer(x + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            let y1 = UnsafeRawPointer(y + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            acc0 += x0 * y0
            acc1 += x1 * y1
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n { sum += x[i] * y[i]; i += 1 }
        return sum
    }

    /// Σ x[i]
    public static func sum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            acc0 += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            acc1 += UnsafeRawPointer(x + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n { sum += x[i]; i += 1 }
        return sum
    }

    /// Σ x[i]²
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        dot(x, x, count: n)
    }

    /// y[i] += a·x[i]
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] += a * x[i] }
    }

    /// x[i] *= a
    public static func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count n: Int) {
        for i in 0..<n { x[i] *= a }
    }

    /// y[i] += x[i]
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] += x[i] }
    }

    /// True when every element is finite.
    public static func allFinite(_ x: UnsafePointer<Float>, count n: Int) -> Bool {
        var bad = false
        for i in 0..<n where !x[i].isFinite { bad = true }
        return !bad
    }
}
