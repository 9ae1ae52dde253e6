/// Element-wise kernels of the layers (ReLU, residual sums, BatchNorm's affine map and its
/// backward), written with explicit 16-lane SIMD: the scalar forms of these loops either do not
/// vectorise (a select on a comparison compiles to a branch per element) or vectorise poorly.
/// They compile to SSE on the default x86-64 target and to wider code where the build targets it.
extension Vector {
    typealias Lanes = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    /// max(v, 0) lane-wise, NaN kept like `max(x, 0)`. (`pointwiseMax` compiles to a loop over lanes.)
    @inline(__always) static func positivePart(_ v: Lanes) -> Lanes { v.replacing(with: 0, where: v .< 0) }

    @inline(__always) static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }

    /// y[i] = max(x[i], 0); y may be x.
    public static func relu(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + 16 <= n { store(positivePart(load(x + i)), y + i); i += 16 }
        while i < n { y[i] = max(x[i], 0); i += 1 }
    }

    /// dx[i] = dy[i] where y[i] > 0, else 0 (y the ReLU's output); dx may be dy.
    public static func reluBackward(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                                    into dx: UnsafeMutablePointer<Float>, count n: Int) {
        let zero = Lanes(repeating: 0)
        var i = 0
        while i + 16 <= n { store(zero.replacing(with: load(dy + i), where: load(y + i) .> zero), dx + i); i += 16 }
        while i < n { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
    }

    /// y[i] = a[i] + b[i]; y may be a or b.
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                           count n: Int) {
        var i = 0
        while i + 16 <= n { store(load(a + i) + load(b + i), y + i); i += 16 }
        while i < n { y[i] = a[i] + b[i]; i += 1 }
    }

    /// y[i] = max(a[i] + b[i], 0); y may be a or b.
    public static func addReLU(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                               count n: Int) {
        var i = 0
        while i + 16 <= n { store(positivePart(load(a + i) + load(b + i)), y + i); i += 16 }
        while i < n { y[i] = max(a[i] + b[i], 0); i += 1 }
    }

    /// y[i] = x[i]·scale + shift, then max(·, 0) when `relu`; y may be x.
    public static func affine(_ x: UnsafePointer<Float>, scale: Float, shift: Float, relu: Bool,
                              into y: UnsafeMutablePointer<Float>, count n: Int) {
        let s = Lanes(repeating: scale), t = Lanes(repeating: shift)
        var i = 0
        if relu {
            while i + 16 <= n { store(positivePart(load(x + i) * s + t), y + i); i += 16 }
            while i < n { y[i] = max(x[i] * scale + shift, 0); i += 1 }
        } else {
            while i + 16 <= n { store(load(x + i) * s + t, y + i); i += 16 }
            while i < n { y[i] = x[i] * scale + shift; i += 1 }
        }
    }

    /// y[i] = max(x[i]·scale + shift + r[i], 0): an affine map, a residual added, ReLU, in one
    /// pass; the same roundings as `affine` then `addReLU`. y may be x or r.
    public static func affineAddReLU(_ x: UnsafePointer<Float>, scale: Float, shift: Float, residual r: UnsafePointer<Float>,
                                     into y: UnsafeMutablePointer<Float>, count n: Int) {
        let s = Lanes(repeating: scale), t = Lanes(repeating: shift)
        var i = 0
        while i + 16 <= n { store(positivePart(load(x + i) * s + t + load(r + i)), y + i); i += 16 }
        while i < n { y[i] = max(x[i] * scale + shift + r[i], 0); i += 1 }
    }

    /// out[i] = a[i] + (y[i] > 0 ? dy[i] : 0): a sum with a ReLU's gradient (`reluBackward` then
    /// `add`, in one pass). out may be a.
    public static func addReLUGradient(_ a: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                                       into out: UnsafeMutablePointer<Float>, count n: Int) {
        let zero = Lanes(repeating: 0)
        var i = 0
        while i + 16 <= n {
            store(load(a + i) + zero.replacing(with: load(dy + i), where: load(y + i) .> zero), out + i)
            i += 16
        }
        while i < n { out[i] = a[i] + (y[i] > 0 ? dy[i] : 0); i += 1 }
    }

    /// Σ (x[i] − mean)²
    public static func squaredDeviations(_ x: UnsafePointer<Float>, from mean: Float, count n: Int) -> Float {
        var a0 = Lanes(), a1 = Lanes()
        let m = Lanes(repeating: mean)
        var i = 0
        while i + 32 <= n {
            let d0 = load(x + i) - m, d1 = load(x + i + 16) - m
            a0 += d0 * d0; a1 += d1 * d1
            i += 32
        }
        var total = (a0 + a1).sum()
        while i < n { let d = x[i] - mean; total += d * d; i += 1 }
        return total
    }

    /// (Σ g[i], Σ g[i]·x[i]) with g = dy, or with g = dy masked to y > 0 when `reluOutput` is given.
    public static func gradientSums(_ dy: UnsafePointer<Float>, reluOutput y: UnsafePointer<Float>?,
                                    _ x: UnsafePointer<Float>, count n: Int) -> (sum: Float, dot: Float) {
        var s0 = Lanes(), s1 = Lanes(), d0 = Lanes(), d1 = Lanes()
        let zero = Lanes(repeating: 0)
        var i = 0
        if let y {
            while i + 32 <= n {
                let g0 = zero.replacing(with: load(dy + i), where: load(y + i) .> zero)
                let g1 = zero.replacing(with: load(dy + i + 16), where: load(y + i + 16) .> zero)
                s0 += g0; s1 += g1
                d0 += g0 * load(x + i); d1 += g1 * load(x + i + 16)
                i += 32
            }
        } else {
            while i + 32 <= n {
                let g0 = load(dy + i), g1 = load(dy + i + 16)
                s0 += g0; s1 += g1
                d0 += g0 * load(x + i); d1 += g1 * load(x + i + 16)
                i += 32
            }
        }
        var sum = (s0 + s1).sum(), dot = (d0 + d1).sum()
        while i < n {
            let g = y.map { $0[i] > 0 ? dy[i] : 0 } ?? dy[i]
            sum += g
            dot += g * x[i]
            i += 1
        }
        return (sum, dot)
    }

    /// dx[i] = a·g[i] + b·x[i] + c with g = dy, or dy masked to y > 0 when `reluOutput` is given.
    public static func gradientAffine(_ dy: UnsafePointer<Float>, reluOutput y: UnsafePointer<Float>?,
                                      _ x: UnsafePointer<Float>, a: Float, b: Float, c: Float,
                                      into dx: UnsafeMutablePointer<Float>, count n: Int) {
        let va = Lanes(repeating: a), vb = Lanes(repeating: b), vc = Lanes(repeating: c), zero = Lanes(repeating: 0)
        var i = 0
        if let y {
            while i + 16 <= n {
                let g = zero.replacing(with: load(dy + i), where: load(y + i) .> zero)
                store(va * g + (vb * load(x + i) + vc), dx + i)
                i += 16
            }
        } else {
            while i + 16 <= n { store(va * load(dy + i) + (vb * load(x + i) + vc), dx + i); i += 16 }
        }
        while i < n {
            let g = y.map { $0[i] > 0 ? dy[i] : 0 } ?? dy[i]
            dx[i] = a * g + (b * x[i] + c)
            i += 1
        }
    }
}
