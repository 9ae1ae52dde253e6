/// GPT-2's GELU in its tanh form, y = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), and its
/// derivative. glibc's scalar `tanhf` took 40 % of a gpt-tiny training step; tanh here is
/// Eigen's rational approximation (`generic_fast_tanh_float`: a 13/6 odd/even rational on
/// [−7.905, 7.905], a few ulp from tanh, x itself below 0.0004 in magnitude), plain Float
/// arithmetic that the optimiser vectorises and that stays fast in debug builds (SIMD types
/// there are not). Each element's value depends on that element alone.
extension Vector {
    static let sqrtTwoOverPi = (2 / Float.pi).squareRoot()
    static let geluCubic: Float = 0.044715

    /// tanh(v) (Eigen's float approximation).
    @inline(__always) static func tanh(_ v: Float) -> Float {
        let limit: Float = 7.90531110763549805
        let x = v > limit ? limit : (v < -limit ? -limit : v)
        let x2 = x * x
        var p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13
        p = x2 * p + -8.60467152213735e-11
        p = x2 * p + 5.12229709037114e-08
        p = x2 * p + 1.48572235717979e-05
        p = x2 * p + 6.37261928875436e-04
        p = x2 * p + 4.89352455891786e-03
        p = x * p
        var q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04
        q = x2 * q + 2.26843463243900e-03
        q = x2 * q + 4.89352518554385e-03
        return v < 0.0004 && v > -0.0004 ? v : p / q
    }

    /// y[i] = GELU(x[i]) (tanh form); y may be x.
    public static func gelu(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n {
            let v = x[i]
            y[i] = 0.5 * v * (1 + tanh(sqrtTwoOverPi * (v + geluCubic * v * v * v)))
        }
    }

    /// dx[i] = dy[i]·GELU′(x[i]) with GELU′ = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715·x²),
    /// t = tanh(√(2/π)(x + 0.044715x³)); dx may be dy.
    public static func geluBackward(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>,
                                    into dx: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n {
            let v = x[i], t = tanh(sqrtTwoOverPi * (v + geluCubic * v * v * v))
            dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * sqrtTwoOverPi * (1 + 3 * geluCubic * v * v))
        }
    }
}
