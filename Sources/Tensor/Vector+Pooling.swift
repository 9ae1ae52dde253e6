extension Vector {
    /// Max pooling over the non-overlapping 2×2 windows of a [rows, width] image (rows and width
    /// even; several images of a batch can be stacked as rows). y is [rows/2, width/2]; indices[o]
    /// is the flat index in x of the maximum, the first in scan order on ties (as a loop over the
    /// window comparing with `>`). `pairMax` and `pairIndex` hold rows·width/2 values.
    ///
    /// Each row's horizontal pairs first (consecutive in memory over the whole image, so 32 inputs
    /// give 16 pair maxima), then the vertical pairs of those: keeping the order top-left,
    /// top-right, bottom-left, bottom-right for ties.
    public static func maxPool2x2(_ x: UnsafePointer<Float>, rows: Int, width: Int, into y: UnsafeMutablePointer<Float>,
                                  indices: UnsafeMutablePointer<Int32>, pairMax: UnsafeMutablePointer<Float>,
                                  pairIndex: UnsafeMutablePointer<Int32>) {
        precondition(rows % 2 == 0 && width % 2 == 0, "maxPool2x2 needs even extents, got \(rows)×\(width)")
        let pairs = rows * width / 2
        var k = 0
        let even = SIMD16<Int32>(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
        while k + 16 <= pairs {
            let v = UnsafeRawPointer(x + 2 * k).loadUnaligned(as: SIMD32<Float>.self)
            let left = v.evenHalf, right = v.oddHalf
            let takeRight = right .> left
            store(left.replacing(with: right, where: takeRight), pairMax + k)
            let index = SIMD16<Int32>(repeating: Int32(2 * k)) &+ even
                &+ SIMD16<Int32>(repeating: 0).replacing(with: 1, where: takeRight)
            UnsafeMutableRawPointer(pairIndex + k).storeBytes(of: index, as: SIMD16<Int32>.self)
            k += 16
        }
        while k < pairs {
            let takeRight = x[2 * k + 1] > x[2 * k]
            pairMax[k] = takeRight ? x[2 * k + 1] : x[2 * k]
            pairIndex[k] = Int32(2 * k + (takeRight ? 1 : 0))
            k += 1
        }
        let outWidth = width / 2
        for r in 0..<(rows / 2) {
            let top = 2 * r * outWidth, bottom = top + outWidth, out = r * outWidth
            if outWidth >= 4 {
                verticalMax(pairMax, pairIndex, top: top, bottom: bottom, count: outWidth, y + out, indices + out)
            } else {
                for i in 0..<outWidth {
                    let down = pairMax[bottom + i] > pairMax[top + i]
                    y[out + i] = down ? pairMax[bottom + i] : pairMax[top + i]
                    indices[out + i] = down ? pairIndex[bottom + i] : pairIndex[top + i]
                }
            }
        }
    }

    /// dx [rows, width] of `maxPool2x2` from dy [rows/2, width/2]: each output's gradient at the
    /// maximum of its window (`indices`, as `maxPool2x2` wrote them), 0 at the window's other three
    /// elements; with `reluOutput` (the pool's output, a ReLU fused before it) only where that output
    /// is positive, else 0. Windows do not overlap, so every element of dx is written once and
    /// needs no zeroing first; the values are those of zeroing dx and adding each gradient at its
    /// index (0 + g, so a −0 gradient lands as +0), without that pass's unpredictable branches.
    public static func maxPool2x2Backward(_ dy: UnsafePointer<Float>, reluOutput y: UnsafePointer<Float>?,
                                          indices: UnsafePointer<Int32>, rows: Int, width: Int,
                                          into dx: UnsafeMutablePointer<Float>) {
        precondition(rows % 2 == 0 && width % 2 == 0, "maxPool2x2Backward needs even extents, got \(rows)×\(width)")
        let outWidth = width / 2
        let zero = SIMD4<Float>(repeating: 0), even = SIMD4<Int32>(0, 2, 4, 6)
        for r in 0..<(rows / 2) {
            let top = 2 * r * width, bottom = top + width, out = r * outWidth
            guard outWidth >= 4 else {
                // Rows of fewer than 4 outputs, one output at a time.
                for i in 0..<outWidth {
                    let o = out + i, at = Int(indices[o]), t = top + 2 * i, b = bottom + 2 * i
                    let g: Float = y.map { $0[o] > 0 } ?? true ? 0 + dy[o] : 0
                    dx[t] = at == t ? g : 0
                    dx[t + 1] = at == t + 1 ? g : 0
                    dx[b] = at == b ? g : 0
                    dx[b + 1] = at == b + 1 ? g : 0
                }
                continue
            }
            // Four outputs at a time as SIMD selects (scalar selects compiled to branches, which the
            // random positions of the maxima mispredict), the last block overlapping the one before.
            var i = 0
            while i < outWidth {
                let start = min(i, outWidth - 4), o = out + start
                var g = UnsafeRawPointer(dy + o).loadUnaligned(as: SIMD4<Float>.self) + zero
                if let y { g = zero.replacing(with: g, where: UnsafeRawPointer(y + o).loadUnaligned(as: SIMD4<Float>.self) .> 0) }
                let at = UnsafeRawPointer(indices + o).loadUnaligned(as: SIMD4<Int32>.self)
                let t = SIMD4<Int32>(repeating: Int32(top + 2 * start)) &+ even
                let b = SIMD4<Int32>(repeating: Int32(bottom + 2 * start)) &+ even
                let tl = zero.replacing(with: g, where: at .== t), tr = zero.replacing(with: g, where: at .== t &+ 1)
                let bl = zero.replacing(with: g, where: at .== b), br = zero.replacing(with: g, where: at .== b &+ 1)
                UnsafeMutableRawPointer(dx + top + 2 * start)
                    .storeBytes(of: SIMD8(tl[0], tr[0], tl[1], tr[1], tl[2], tr[2], tl[3], tr[3]), as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dx + bottom + 2 * start)
                    .storeBytes(of: SIMD8(bl[0], br[0], bl[1], br[1], bl[2], br[2], bl[3], br[3]), as: SIMD8<Float>.self)
                i = start + 4
            }
        }
    }

    /// out[i] = the larger of m[top + i] and m[bottom + i] (top on ties), with its index, for
    /// i in 0..<count (count ≥ 4): blocks of four, the last one overlapping the one before.
    /// (Concrete SIMD4: a generic version over the lane count compiled to loops over lanes.)
    @inline(__always)
    private static func verticalMax(_ m: UnsafePointer<Float>, _ index: UnsafePointer<Int32>, top: Int, bottom: Int,
                                    count: Int, _ y: UnsafeMutablePointer<Float>, _ indices: UnsafeMutablePointer<Int32>) {
        var i = 0
        while true {
            let at = min(i, count - 4)
            let t = UnsafeRawPointer(m + top + at).loadUnaligned(as: SIMD4<Float>.self)
            let b = UnsafeRawPointer(m + bottom + at).loadUnaligned(as: SIMD4<Float>.self)
            let down = b .> t
            UnsafeMutableRawPointer(y + at).storeBytes(of: t.replacing(with: b, where: down), as: SIMD4<Float>.self)
            let ti = UnsafeRawPointer(index + top + at).loadUnaligned(as: SIMD4<Int32>.self)
            let bi = UnsafeRawPointer(index + bottom + at).loadUnaligned(as: SIMD4<Int32>.self)
            UnsafeMutableRawPointer(indices + at).storeBytes(of: ti.replacing(with: bi, where: down), as: SIMD4<Int32>.self)
            if at + 4 >= count { return }
            i += 4
        }
    }
}
