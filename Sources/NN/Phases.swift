/// Stride-2 convolutions on the input split into its four phases, the even/odd lines × even/odd
/// columns: phase (a, b) [C, N, Ho, Wo] holds x[c, n, 2y + a, 2x + b] (0 past the image). Input
/// line 2·o − p + i of output line o is line o + shift of phase (i − p) mod 2, with
/// shift = ⌊(i − p)/2⌋, the same for every o, so each im2col row is a phase plane shifted by a
/// constant (`shiftedRows`) instead of a strided gather, and col2im becomes contiguous adds.
extension ConvGeometry {
    /// Stride 2 with taps at most one line or column before the output's own (shift −1 or 0),
    /// and Ho ≥ ⌈H/2⌉ so that the phases, Ho × Wo each, hold the whole input: 3×3 with padding 1,
    /// 1×1 without.
    var usesPhases: Bool {
        stride == 2 && kernelH == kernelW && padding <= 2 && kernelH <= min(padding + 2, 2 * padding + 1)
    }

    /// Kernel offset i's phase (line or column parity) and shift.
    @inline(__always)
    func phaseTap(_ i: Int) -> (phase: Int, shift: Int) { ((i - padding) & 1, floorDiv(i - padding, 2)) }

    /// Bit a·2 + b set when some tap reads phase (a, b).
    var phaseMask: Int {
        var parities = 0
        for i in 0..<kernelH { parities |= 1 << phaseTap(i).phase }
        var mask = 0
        for a in 0..<2 where parities & (1 << a) != 0 {
            for b in 0..<2 where parities & (1 << b) != 0 { mask |= 1 << (a * 2 + b) }
        }
        return mask
    }
}

/// The phases [4, C, N, Ho, Wo] of `images` of x [C, N, H, W] that `mask` asks for.
func splitPhases(_ x: UnsafePointer<Float>, c: Int, n: Int, h: Int, w: Int, oh: Int, ow: Int, mask: Int,
                 images: Range<Int>, into phases: UnsafeMutablePointer<Float>) {
    for phase in 0..<4 where mask & (1 << phase) != 0 {
        let a = phase >> 1, b = phase & 1, valid = min(ow, (w - b + 1) / 2)
        for ch in 0..<c {
            for image in images {
                let dst = phases + ((phase * c + ch) * n + image) * oh * ow, src = x + (ch * n + image) * h * w
                for y in 0..<oh {
                    let line = dst + y * ow
                    if 2 * y + a >= h { line.update(repeating: 0, count: ow); continue }
                    let from = src + (2 * y + a) * w + b
                    gatherEvenWithin(from, readable: src + h * w - from, into: line, count: valid)
                    if valid < ow { (line + valid).update(repeating: 0, count: ow - valid) }
                }
            }
        }
    }
}

/// dx [C, N, H, W] of `images` from the phases' gradients [4, C, N, Ho, Wo] (0 where `mask` has no phase).
func mergePhases(_ phases: UnsafePointer<Float>, c: Int, n: Int, h: Int, w: Int, oh: Int, ow: Int, mask: Int,
                 images: Range<Int>, into dx: UnsafeMutablePointer<Float>) {
    for ch in 0..<c {
        for image in images {
            let dst = dx + (ch * n + image) * h * w
            for y in 0..<h {
                let line = dst + y * w, a = y & 1
                let offset = (ch * n + image) * oh * ow + (y >> 1) * ow, phaseStride = c * n * oh * ow
                let even = mask & (1 << (a * 2)) != 0 ? phases + a * 2 * phaseStride + offset : nil
                let odd = mask & (1 << (a * 2 + 1)) != 0 ? phases + (a * 2 + 1) * phaseStride + offset : nil
                interleave(even, odd, into: line, count: w)
            }
        }
    }
}

/// line[2·i] = even[i], line[2·i + 1] = odd[i] for the `count` entries of the line (0 for a missing phase).
@inline(__always)
private func interleave(_ even: UnsafePointer<Float>?, _ odd: UnsafePointer<Float>?,
                        into line: UnsafeMutablePointer<Float>, count: Int) {
    if let even, let odd {
        var x = 0
        while x + 8 <= count / 2 {
            let e = UnsafeRawPointer(even + x).loadUnaligned(as: SIMD8<Float>.self)
            let o = UnsafeRawPointer(odd + x).loadUnaligned(as: SIMD8<Float>.self)
            // (LLVM turns the element-wise build into two unpack shuffles.)
            let pairs = SIMD16<Float>(e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3],
                                      e[4], o[4], e[5], o[5], e[6], o[6], e[7], o[7])
            UnsafeMutableRawPointer(line + 2 * x).storeBytes(of: pairs, as: SIMD16<Float>.self)
            x += 8
        }
        for x in x..<count / 2 {
            line[2 * x] = even[x]
            line[2 * x + 1] = odd[x]
        }
        if count & 1 == 1 { line[count - 1] = even[count / 2] }
        return
    }
    line.update(repeating: 0, count: count)
    if let even {
        for x in 0..<(count + 1) / 2 { line[2 * x] = even[x] }
    } else if let odd {
        for x in 0..<count / 2 { line[2 * x + 1] = odd[x] }
    }
}

/// dst[i] = src[2·i] for i in 0..<count, 8 (then 4) at a time while the load stays within the
/// `readable` floats from src, and never writing past dst[count − 1] (unlike im2col's gather): the
/// last block overlaps the one before it (short phase lines, 7 or 14 floats, have no other SIMD).
@inline(__always)
private func gatherEvenWithin(_ src: UnsafePointer<Float>, readable: Int, into dst: UnsafeMutablePointer<Float>,
                              count: Int) {
    @inline(__always) func eight(_ i: Int) {
        let pair = UnsafeRawPointer(src + 2 * i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
    }
    @inline(__always) func four(_ i: Int) {
        let pair = UnsafeRawPointer(src + 2 * i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: pair.evenHalf, as: SIMD4<Float>.self)
    }
    var i = 0
    while i + 8 <= count && 2 * i + 16 <= readable { eight(i); i += 8 }
    if i < count && count >= 8 && 2 * count <= readable {
        eight(count - 8)
        return
    }
    while i + 4 <= count && 2 * i + 8 <= readable { four(i); i += 4 }
    if i < count && count >= 4 && 2 * count <= readable {
        four(count - 4)
        return
    }
    while i < count { dst[i] = src[2 * i]; i += 1 }
}

/// `im2col` of a stride-2 convolution from its phases [4, C, N, Ho, Wo]: any output positions.
func im2colPhases(_ phases: UnsafePointer<Float>, c: Int, n: Int, oh: Int, ow: Int, geometry g: ConvGeometry,
                  columns: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    let k = g.kernelH, plane = n * oh * ow
    for i in 0..<k {
        for j in 0..<k {
            let (a, dy) = g.phaseTap(i), (b, dx) = g.phaseTap(j)
            shiftedRows(phases + (a * 2 + b) * c * plane, planeStride: plane, c: c, h: oh, w: ow, shift: (dy, dx),
                        columns: columns, into: col + (i * k + j) * columns.count, rowStride: k * k * columns.count)
        }
    }
}

/// The adjoint of `im2colPhases`: adds the columns into the phases' gradients (and zeroes the
/// columns' entries that read off the image).
func col2imPhases(_ col: UnsafeMutablePointer<Float>, c: Int, n: Int, oh: Int, ow: Int, geometry g: ConvGeometry,
                  columns: Range<Int>, into phases: UnsafeMutablePointer<Float>) {
    let k = g.kernelH, plane = n * oh * ow
    for i in 0..<k {
        for j in 0..<k {
            let (a, dy) = g.phaseTap(i), (b, dx) = g.phaseTap(j)
            addShiftedRows(col + (i * k + j) * columns.count, rowStride: k * k * columns.count, c: c, h: oh, w: ow,
                           shift: (dy, dx), columns: columns, into: phases + (a * 2 + b) * c * plane,
                           planeStride: plane)
        }
    }
}
