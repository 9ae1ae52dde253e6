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
