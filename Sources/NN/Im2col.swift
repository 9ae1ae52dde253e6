import Tensor

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

    /// Stride 1 and an output as large as the input (2·padding = kernel − 1): each im2col row is
    /// the input plane shifted by a constant offset, and the input gradient is the same kind of
    /// convolution of the output gradient with the flipped, transposed kernel.
    var preservesSize: Bool { stride == 1 && 2 * padding == kernelH - 1 && kernelH == kernelW }

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

/// Unfolds the output positions `columns` (of N·Ho·Wo, in [N, Ho, Wo] order) of a convolution of
/// x [C, N, H, W] into columns [C·kh·kw, columns.count]: row (c, i, j), column (n, oh, ow) holds
/// x[c, n, oh·s − p + i, ow·s − p + j], or 0 outside the image. Working on a few columns at a time
/// keeps them in cache for the GEMM that reads them. Size-preserving geometries take any range;
/// others whole output lines (multiples of Wo).
func im2col(_ x: UnsafePointer<Float>, c: Int, n: Int, h: Int, w: Int, geometry g: ConvGeometry,
            columns: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    if g.preservesSize {
        im2colPreservingSize(x, c: c, n: n, h: h, w: w, kernel: g.kernelH, padding: g.padding, columns: columns,
                             into: col)
        return
    }
    let (oh, ow) = g.outputSize(h, w)
    precondition(columns.lowerBound % ow == 0 && columns.upperBound % ow == 0, "im2col needs whole output lines")
    let rows = (columns.lowerBound / ow)..<(columns.upperBound / ow), total = c * n * h * w
    for ch in 0..<c {
        for i in 0..<g.kernelH {
            for j in 0..<g.kernelW {
                let row = col + ((ch * g.kernelH + i) * g.kernelW + j) * columns.count
                let cols = g.validRange(offset: j, inputSize: w, outputSize: ow)
                var b = rows.lowerBound / oh, y = rows.lowerBound - b * oh
                var dst = row
                for _ in 0..<rows.count {
                    defer {
                        dst += ow
                        y += 1
                        if y == oh { y = 0; b += 1 }
                    }
                    let iy = y * g.stride - g.padding + i
                    if iy < 0 || iy >= h || cols.isEmpty {
                        dst.update(repeating: 0, count: ow)
                        continue
                    }
                    let line = x + (ch * n + b) * h * w + iy * w - g.padding + j
                    if g.stride == 1 {
                        (dst + cols.lowerBound).update(from: line + cols.lowerBound, count: cols.count)
                    } else if g.stride == 2 {
                        let from = line + 2 * cols.lowerBound
                        gatherEven(from, readable: x + total - from, into: dst + cols.lowerBound, count: cols.count)
                    } else {
                        var from = line + cols.lowerBound * g.stride
                        for x0 in cols { dst[x0] = from.pointee; from += g.stride }
                    }
                    // (After the gather, which may write past the valid columns.)
                    for x0 in 0..<cols.lowerBound { dst[x0] = 0 }
                    for x0 in cols.upperBound..<ow { dst[x0] = 0 }
                }
            }
        }
    }
}

/// `im2col` for stride 1 and Ho = H, Wo = W: row (c, i, j) is the channel's [N·H·W] plane
/// shifted by (i − p)·W + (j − p).
private func im2colPreservingSize(_ x: UnsafePointer<Float>, c: Int, n: Int, h: Int, w: Int, kernel k: Int,
                                  padding p: Int, columns: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    for i in 0..<k {
        for j in 0..<k {
            shiftedRows(x, planeStride: n * h * w, c: c, h: h, w: w, shift: (i - p, j - p), columns: columns,
                        into: col + (i * k + j) * columns.count, rowStride: k * k * columns.count)
        }
    }
}

/// One im2col row per channel, `rowStride` apart, for a tap that reads planes [N·h·w] (`planeStride`
/// apart, each its own channel's whole plane) at a constant shift (lines dy, columns dx): dst[q] = src[start + q + dy·w + dx], or 0
/// where line y + dy or column x + dx is off the image. One copy, then `maskOffImage`.
func shiftedRows(_ x: UnsafePointer<Float>, planeStride: Int, c: Int, h: Int, w: Int, shift: (dy: Int, dx: Int),
                 columns: Range<Int>, into tap: UnsafeMutablePointer<Float>, rowStride: Int) {
    let (lo, hi, offset) = shiftedRange(total: planeStride, h: h, w: w, shift: shift, columns: columns)
    let count = columns.count
    for ch in 0..<c {
        let dst = tap + ch * rowStride, src = x + ch * planeStride
        if lo > 0 { dst.update(repeating: 0, count: lo) }
        (dst + lo).update(from: src + offset + lo, count: hi - lo)
        if hi < count { (dst + hi).update(repeating: 0, count: count - hi) }
    }
    maskOffImage(tap, rowStride: rowStride, c: c, h: h, w: w, shift: shift, columns: columns)
}

/// The adjoint of `shiftedRows`: adds the rows into the planes at the shift (after zeroing, in
/// the rows, the entries that read off the image).
func addShiftedRows(_ tap: UnsafeMutablePointer<Float>, rowStride: Int, c: Int, h: Int, w: Int,
                    shift: (dy: Int, dx: Int), columns: Range<Int>, into x: UnsafeMutablePointer<Float>,
                    planeStride: Int) {
    maskOffImage(tap, rowStride: rowStride, c: c, h: h, w: w, shift: shift, columns: columns)
    let (lo, hi, offset) = shiftedRange(total: planeStride, h: h, w: w, shift: shift, columns: columns)
    for ch in 0..<c {
        Vector.add(tap + ch * rowStride + lo, x + ch * planeStride + offset + lo, into: x + ch * planeStride + offset + lo,
                   count: hi - lo)
    }
}

/// The columns q of `columns` (from 0) whose shifted position start + q + shift lies in the
/// images that `columns` covers, and start + shift. A shifted position outside them is off the
/// image (masked), and it may belong to images that another thread writes at the same time: a
/// contiguous add of the masked zeros there would store back a stale value.
@inline(__always)
private func shiftedRange(total: Int, h: Int, w: Int, shift: (dy: Int, dx: Int),
                          columns: Range<Int>) -> (lo: Int, hi: Int, offset: Int) {
    let start = columns.lowerBound, count = columns.count, offset = start + shift.dy * w + shift.dx
    let image = h * w, first = start / image * image
    let last = min(total, (columns.upperBound + image - 1) / image * image)
    let lo = min(count, max(0, first - offset)), hi = max(lo, min(count, last - offset))
    return (lo, hi, offset)
}

/// Zeroes the entries of `shiftedRows`' rows whose shifted line or column is off the image:
/// whole lines at the top or bottom of each image, single columns at the sides, line by line
/// (the range may start and end inside lines). They depend on the shift only, not the channel.
private func maskOffImage(_ tap: UnsafeMutablePointer<Float>, rowStride: Int, c: Int, h: Int, w: Int,
                          shift: (dy: Int, dx: Int), columns: Range<Int>) {
    let start = columns.lowerBound, end = columns.upperBound
    let firstLine = start / w, lastLine = (end + w - 1) / w
    let left = max(0, -shift.dx), right = min(w, w - shift.dx)
    var y = firstLine % h
    for line in firstLine..<lastLine {
        defer { y = y + 1 == h ? 0 : y + 1 }
        let from = max(start, line * w) - start, to = min(end, line * w + w) - start
        let iy = y + shift.dy
        if iy < 0 || iy >= h {
            for ch in 0..<c { (tap + ch * rowStride + from).update(repeating: 0, count: to - from) }
            continue
        }
        let lineStart = line * w - start
        var q = from
        while q < min(to, lineStart + left) { zeroColumn(tap + q, stride: rowStride, count: c); q += 1 }
        q = max(from, lineStart + right)
        while q < to { zeroColumn(tap + q, stride: rowStride, count: c); q += 1 }
    }
}

/// p[0], p[stride], … p[(count − 1)·stride] = 0
@inline(__always)
private func zeroColumn(_ p: UnsafeMutablePointer<Float>, stride: Int, count: Int) {
    var q = p
    for _ in 0..<count { q.pointee = 0; q += stride }
}

/// dst[i] = src[2·i] for i in 0..<count, 8 at a time while the 16-float load stays within the
/// `readable` floats from src. A last block of 8 may write up to 7 floats past dst[count − 1]:
/// im2col writes those positions afterwards (the rest of the line, later lines and rows), and
/// its scratch ends with `im2colSlack` floats to spare.
@inline(__always)
private func gatherEven(_ src: UnsafePointer<Float>, readable: Int, into dst: UnsafeMutablePointer<Float>,
                        count: Int) {
    var i = 0
    while i < count && 2 * i + 16 <= readable {
        let pair = UnsafeRawPointer(src + 2 * i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { dst[i] = src[2 * i]; i += 1 }
}

/// Floats past the end of im2col's columns that it may overwrite.
let im2colSlack = 8

/// The adjoint of `im2col` for the same rows: adds every column entry back into dx [C, N, H, W]
/// (which the caller zeroes first).
func col2im(_ col: UnsafePointer<Float>, c: Int, n: Int, h: Int, w: Int, geometry g: ConvGeometry,
            rows: Range<Int>, into dx: UnsafeMutablePointer<Float>) {
    let (oh, ow) = g.outputSize(h, w)
    let columns = rows.count * ow
    for ch in 0..<c {
        for i in 0..<g.kernelH {
            for j in 0..<g.kernelW {
                let row = col + ((ch * g.kernelH + i) * g.kernelW + j) * columns
                let cols = g.validRange(offset: j, inputSize: w, outputSize: ow)
                if cols.isEmpty { continue }
                var b = rows.lowerBound / oh, y = rows.lowerBound - b * oh
                var src = row
                for _ in 0..<rows.count {
                    defer {
                        src += ow
                        y += 1
                        if y == oh { y = 0; b += 1 }
                    }
                    let iy = y * g.stride - g.padding + i
                    if iy < 0 || iy >= h { continue }
                    let line = dx + (ch * n + b) * h * w + iy * w - g.padding + j
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
