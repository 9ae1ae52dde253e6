/// The codecs' kernels over one payload laid out as `PayloadCodec` describes. Loops over raw
/// pointers, no allocation: they run inside the training step.
extension PayloadCodec {
    /// Encodes dense block `b` (elements b·256 ..< b·256 + n) of a payload of `count` elements
    /// from `x` (its n values) into `payload`.
    @inline(__always)
    public func encodeBlock(_ x: UnsafePointer<Float>, block b: Int, n: Int, count: Int, into payload: UnsafeMutableRawPointer) {
        let lo = b * Self.int8Block
        switch kind {
        case .fp16:
            let codes = payload.assumingMemoryBound(to: UInt16.self) + lo
            for i in 0..<n { codes[i] = Self.fp16(x[i]) }
        case .bf16:
            let codes = payload.assumingMemoryBound(to: UInt16.self) + lo
            for i in 0..<n { codes[i] = Self.bf16(x[i]) }
        case .int8:
            let scales = payload.assumingMemoryBound(to: Float.self)
            let codes = (payload + 4 * Self.blocks(count)).assumingMemoryBound(to: Int8.self) + lo
            scales[b] = Self.int8Encode(x, n: n, into: codes)
        case .none, .topk:
            preconditionFailure("encodeBlock: \(kind) is not a dense codec")
        }
    }

    /// Decodes dense block `b` of a payload of `count` elements into `out` (n values).
    @inline(__always)
    public func decodeBlock(_ payload: UnsafeRawPointer, block b: Int, n: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let lo = b * Self.int8Block
        switch kind {
        case .fp16:
            let codes = payload.assumingMemoryBound(to: UInt16.self) + lo
            for i in 0..<n { out[i] = Self.fromFp16(codes[i]) }
        case .bf16:
            let codes = payload.assumingMemoryBound(to: UInt16.self) + lo
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(codes[i]) << 16) }
        case .int8:
            let scale = payload.assumingMemoryBound(to: Float.self)[b]
            let codes = (payload + 4 * Self.blocks(count)).assumingMemoryBound(to: Int8.self) + lo
            for i in 0..<n { out[i] = Float(codes[i]) * scale }
        case .none, .topk:
            preconditionFailure("decodeBlock: \(kind) is not a dense codec")
        }
    }

    /// Half precision, round to nearest even; beyond ±65504 (half's largest finite) saturates,
    /// so a large value costs precision, never an infinity.
    /// In integer arithmetic (Swift's `Float16(x)` calls a library routine per element on
    /// x86-64, ~40 ns); bitwise the same as `Float16(x).bitPattern` (a test).
    @inline(__always)
    static func fp16(_ x: Float) -> UInt16 {
        guard !x.isNaN else { return 0x7E00 }
        let bits = min(max(x, -65504), 65504).bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000), magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x3880_0000 {
            // Normal in half: rebias the exponent (127 → 15), round 13 mantissa bits to nearest even.
            let r = magnitude &- 0x3800_0000
            return sign | UInt16(truncatingIfNeeded: (r &+ 0x0FFF &+ ((r >> 13) & 1)) >> 13)
        }
        // Subnormal in half: m·2⁻²⁴; scaling by 2²⁴ is exact and rounds m to nearest even
        // (1024 is the smallest normal's pattern, as it should be).
        return sign | UInt16((Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven))
    }

    /// Half to Float, exact, in integer arithmetic.
    @inline(__always)
    static func fromFp16(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16, exponent = UInt32(h >> 10) & 0x1F, mantissa = UInt32(h & 0x3FF)
        if exponent == 0 { return Float(bitPattern: sign) + (sign == 0 ? 1 : -1) * Float(mantissa) * 0x1p-24 }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// The upper half of the Float's bits, rounded to nearest even.
    @inline(__always)
    static func bf16(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        guard !x.isNaN else { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// One int8 block: returns the scale max|x|/127 (0 for an all-zero block) and writes the
    /// codes round(x/scale), nearest even, clamped to −127…127.
    @inline(__always)
    static func int8Encode(_ x: UnsafePointer<Float>, n: Int, into codes: UnsafeMutablePointer<Int8>) -> Float {
        var absmax: Float = 0
        for i in 0..<n { absmax = max(absmax, abs(x[i])) }
        let scale = absmax / 127
        if !(scale > 0) || !scale.isFinite {
            for i in 0..<n { codes[i] = 0 }
            return scale.isFinite ? 0 : scale
        }
        for i in 0..<n {
            let q = (x[i] / scale).rounded(.toNearestOrEven)
            codes[i] = Int8(min(max(q, -127), 127))
        }
        return scale
    }

    /// Top-k: writes the payload of `x` (`count` elements) into `payload`, chunk by chunk, and,
    /// if `residual` is given, zeroes `residual[i]` at every kept index (error feedback: the residual of
    /// a kept entry is 0, its value travels exactly). `magnitudes` holds `topkChunk` floats.
    public func encodeTopK(_ x: UnsafePointer<Float>, count: Int, into payload: UnsafeMutableRawPointer,
                           magnitudes: UnsafeMutablePointer<Float>, zeroKeptIn residual: UnsafeMutablePointer<Float>?) {
        let total = keptEntries(count)
        let indices = payload.assumingMemoryBound(to: UInt32.self)
        let values = (payload + 4 * total).assumingMemoryBound(to: Float.self)
        var e = 0, lo = 0
        while lo < count {
            let n = min(Self.topkChunk, count - lo), k = kept(chunk: n)
            for i in 0..<n { magnitudes[i] = abs(x[lo + i]) }
            let threshold = Self.kthLargest(magnitudes, n: n, k: k)
            var above = 0
            for i in 0..<n where abs(x[lo + i]) > threshold { above += 1 }
            var ties = k - above, taken = 0
            for i in 0..<n {
                let m = abs(x[lo + i])
                guard m > threshold || (m == threshold && ties > 0) else { continue }
                if !(m > threshold) { ties -= 1 }
                indices[e] = UInt32(lo + i)
                values[e] = x[lo + i]
                e += 1
                taken += 1
                if taken == k { break }
            }
            // Only unordered magnitudes (NaN) leave fewer than k: pad with zeros at the chunk's start.
            while taken < k { indices[e] = UInt32(lo); values[e] = 0; e += 1; taken += 1 }
            lo += n
        }
        if let residual { for j in 0..<total { residual[Int(indices[j])] = 0 } }
    }

    /// Top-k: adds the kept values of `payload` (of `count` elements) into `sum` at their indices.
    @inline(__always)
    public func addTopK(_ payload: UnsafeRawPointer, count: Int, into sum: UnsafeMutablePointer<Float>) {
        let total = keptEntries(count)
        let indices = payload.assumingMemoryBound(to: UInt32.self)
        let values = (payload + 4 * total).assumingMemoryBound(to: Float.self)
        for e in 0..<total { sum[Int(indices[e])] += values[e] }
    }

    /// The k-th largest of `a[0..<n]` (1 ≤ k ≤ n), by Hoare's selection with a median-of-three
    /// pivot; reorders `a`. Deterministic: no random pivots.
    static func kthLargest(_ a: UnsafeMutablePointer<Float>, n: Int, k: Int) -> Float {
        var lo = 0, hi = n - 1
        let target = k - 1
        while lo < hi {
            let x = a[lo], y = a[(lo + hi) / 2], z = a[hi]
            let pivot = max(min(x, y), min(max(x, y), z))
            var i = lo, j = hi
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always)
    fileprivate func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}
