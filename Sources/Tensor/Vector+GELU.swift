/// GPT-2's GELU in its tanh form, y = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), and its
/// derivative, 16 lanes at a time. glibc's scalar `tanhf` took 40 % of a gpt-tiny training step;
/// tanh here is Eigen's rational approximation (`generic_fast_tanh_float`, a 13/6 odd/even
/// rational on [−7.905, 7.905], a few ulp from tanh, exactly x below 0.0004 in magnitude).
/// Every element, the last few included, goes through the same lane code, so an element's value
/// does not depend on where a range of the work starts or ends.
extension Vector {
    static let sqrtTwoOverPi = Lanes(repeating: (2 / Float.pi).squareRoot())
    static let geluCubic = Lanes(repeating: 0.044715)

    /// tanh(v) lane-wise (Eigen's float approximation).
    @inline(__always) static func tanh(_ v: Lanes) -> Lanes {
        let limit = Lanes(repeating: 7.90531110763549805)
        var x = v.replacing(with: limit, where: v .> limit)
        x.replace(with: -limit, where: x .< -limit)
        let x2 = x * x
        var p = x2 * Lanes(repeating: -2.76076847742355e-16) + Lanes(repeating: 2.00018790482477e-13)
        p = x2 * p + Lanes(repeating: -8.60467152213735e-11)
        p = x2 * p + Lanes(repeating: 5.12229709037114e-08)
        p = x2 * p + Lanes(repeating: 1.48572235717979e-05)
        p = x2 * p + Lanes(repeating: 6.37261928875436e-04)
        p = x2 * p + Lanes(repeating: 4.89352455891786e-03)
        p = x * p
        var q = x2 * Lanes(repeating: 1.19825839466702e-06) + Lanes(repeating: 1.18534705686654e-04)
        q = x2 * q + Lanes(repeating: 2.26843463243900e-03)
        q = x2 * q + Lanes(repeating: 4.89352518554385e-03)
        let tiny = Lanes(repeating: 0.0004)
        return (p / q).replacing(with: v, where: v .< tiny .& v .> -tiny)
    }

    /// tanh(√(2/π)·(x + 0.044715·x³)) lane-wise: the inner value of GELU.
    @inline(__always) static func geluTanh(_ x: Lanes) -> Lanes {
        tanh(sqrtTwoOverPi * (x + geluCubic * x * x * x))
    }

    /// Applies `body` to x[i..<i+16] for every block of 16, then to the last count mod 16 padded
    /// with zeros (so they take the same lane arithmetic), storing only the real elements.
    @inline(__always) private static func blocks(count n: Int, _ loadBlock: (Int, Int) -> (Lanes, Lanes),
                                                 _ body: (Lanes, Lanes) -> Lanes,
                                                 _ storeBlock: (Lanes, Int, Int) -> Void) {
        var i = 0
        while i + 16 <= n {
            let (a, b) = loadBlock(i, 16)
            storeBlock(body(a, b), i, 16)
            i += 16
        }
        if i < n {
            let (a, b) = loadBlock(i, n - i)
            storeBlock(body(a, b), i, n - i)
        }
    }

    /// y[i] = GELU(x[i]) (tanh form); y may be x.
    public static func gelu(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        blocks(count: n, { i, k in (lanes(x + i, k), Lanes()) },
               { v, _ in Lanes(repeating: 0.5) * v * (Lanes(repeating: 1) + geluTanh(v)) },
               { r, i, k in storeLanes(r, y + i, k) })
    }

    /// dx[i] = dy[i]·GELU′(x[i]) with GELU′ = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715·x²),
    /// t = tanh(√(2/π)(x + 0.044715x³)); dx may be dy.
    public static func geluBackward(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>,
                                    into dx: UnsafeMutablePointer<Float>, count n: Int) {
        let half = Lanes(repeating: 0.5), one = Lanes(repeating: 1), three = Lanes(repeating: 3)
        blocks(count: n, { i, k in (lanes(x + i, k), lanes(dy + i, k)) }, { v, g in
            let t = geluTanh(v)
            let local = half * (one + t) + half * v * (one - t * t) * sqrtTwoOverPi * (one + three * geluCubic * v * v)
            return g * local
        }, { r, i, k in storeLanes(r, dx + i, k) })
    }

    /// The first `k` ≤ 16 floats from p, zeros after.
    @inline(__always) private static func lanes(_ p: UnsafePointer<Float>, _ k: Int) -> Lanes {
        if k == 16 { return load(p) }
        var v = Lanes()
        for j in 0..<k { v[j] = p[j] }
        return v
    }

    /// Stores the first `k` ≤ 16 lanes of v at p.
    @inline(__always) private static func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, _ k: Int) {
        if k == 16 { store(v, p); return }
        for j in 0..<k { p[j] = v[j] }
    }
}
