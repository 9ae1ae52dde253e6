/// Geometry of a 2-D convolution or pooling window.
public struct ConvGeometry: Equatable, Sendable {
    public var kernelH: Int, kernelW: Int, stride: Int, padding: Int

    public init(kernel: Int, stride: Int = 1, padding: Int = 0) {
        kernelH = kernel
        kernelW = kernel
        self.stride = stride
        self.padding = padding
    }

    public func outputSize(_ h: Int, _ w: Int) -> (h: Int, w: Int) {
        ((h + 2 * padding - kernelH) / stride + 1, (w + 2 * padding - kernelW) / stride + 1)
    }

    /// The range of output columns `ow` whose input column `ow·stride − padding + j` is inside 0..<w.
    @inline(__always)
    func validRange(offset j: Int, inputSize w: Int, outputSize ow: Int) -> Range<Int> {
        // ow·s − p + j ≥ 0  ⇔ ow ≥ ceil((p − j)/s);   ow·s − p + j ≤ w − 1 ⇔ ow ≤ floor((w − 1 + p − j)/s)
        let lo = max(0, ceilDiv(padding - j, stride))
        let hiInclusive = floorDiv(w - 1 + padding - j, stride)
        let hi = min(ow, hiInclusive + 1)
        return lo < hi ? lo..<hi : 0..<0
    }
}

@inline(__always) func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inline(__always) func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

/// Unfolds x [C, N, H, W] into columns [C·kh·kw, N·Ho·Wo]: row (c, i, j), column (n, oh, ow)
/// holds x[c, n, oh·s − p + i, ow·s − p + j], or 0 outside the image.
func im2col(_ x: UnsafePointer<Float>, c: Int, n: Int, h: Int, w: Int, geometry g: ConvGeometry,
            into col: UnsafeMutablePointer<Float>) {
    let (oh, ow) = g.outputSize(h, w)
    let columns = n * oh * ow
    for ch in 0..<c {
        for i in 0..<g.kernelH {
            for j in 0..<g.kernelW {
                let row = col + ((ch * g.kernelH + i) * g.kernelW + j) * columns
                let cols = g.validRange(offset: j, inputSize: w, outputSize: ow)
                for b in 0..<n {
                    let src = x + (ch * n + b) * h * w
                    for y in 0..<oh {
                        let dst = row + (b * oh + y) * ow
                        let iy = y * g.stride - g.padding + i
                        if iy < 0 || iy >= h || cols.isEmpty {
                            dst.update(repeating: 0, count: ow)
                            continue
                        }
                        if cols.lowerBound > 0 { dst.update(repeating: 0, count: cols.lowerBound) }
                        if cols.upperBound < ow { (dst + cols.upperBound).update(repeating: 0, count: ow - cols.upperBound) }
                        let line = src + iy * w - g.padding + j
                        if g.stride == 1 {
                            (dst + cols.lowerBound).update(from: line + cols.lowerBound, count: cols.count)
                        } else {
                            for x0 in cols { dst[x0] = line[x0 * g.stride] }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds every column entry back into dx [C, N, H, W] (which the caller zeroes).
func col2im(_ col: UnsafePointer<Float>, c: Int, n: Int, h: Int, w: Int, geometry g: ConvGeometry,
            into dx: UnsafeMutablePointer<Float>) {
    let (oh, ow) = g.outputSize(h, w)
    let columns = n * oh * ow
    for ch in 0..<c {
        for i in 0..<g.kernelH {
            for j in 0..<g.kernelW {
                let row = col + ((ch * g.kernelH + i) * g.kernelW + j) * columns
                let cols = g.validRange(offset: j, inputSize: w, outputSize: ow)
                if cols.isEmpty { continue }
                for b in 0..<n {
                    let dst = dx + (ch * n + b) * h * w
                    for y in 0..<oh {
                        let iy = y * g.stride - g.padding + i
                        if iy < 0 || iy >= h { continue }
                        let src = row + (b * oh + y) * ow
                        let line = dst + iy * w - g.padding + j
                        if g.stride == 1 {
                            for x0 in cols { line[x0] += src[x0] }
                        } else {
                            for x0 in cols { line[x0 * g.stride] += src[x0] }
                        }
                    }
                }
            }
        }
    }
}
