import Foundation

/// The rounding bound of a Winograd F(4×4, 3×3) convolution (3×3, stride 1, padding 1), per
/// output: every intermediate value of the algorithm computed on magnitudes,
/// |Aᵀ| [Σ_c (|G| |g| |Gᵀ|) ⊙ (|Bᵀ| |d| |B|)] |A|, which bounds the sum of the magnitudes of all
/// the terms any float32 evaluation of those sums and products rounds. Its error is then at most
/// (n + 1)·u times it (u = 2⁻²⁴, Higham's γ_n with n the longest chain of roundings: the channels'
/// sum plus the transforms' few steps), where a direct sum's bound uses Σ|x·w| instead.
/// x [C][N][H][W], weights w [K][C][3][3] (or `transposed`: the backward-data weights of
/// w [C][K][3][3], each kernel turned by 180°); the result is [K][N][H][W].
func winogradMagnitudes(x: [Float], channels: Int, images: Int, height: Int, width: Int,
                        weights: [Float], outChannels: Int, transposed: Bool = false) -> [Double] {
    let bt: [[Double]] = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                          [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    let g: [[Double]] = [[1.0 / 4, 0, 0], [1.0 / 6, 1.0 / 6, 1.0 / 6], [1.0 / 6, 1.0 / 6, 1.0 / 6],
                         [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, 1.0 / 12, 1.0 / 6], [0, 0, 1]]
    let at: [[Double]] = [[1, 1, 1, 1, 1, 0], [0, 1, 1, 2, 2, 0], [0, 1, 1, 4, 4, 0], [0, 1, 1, 8, 8, 1]]
    let absBt = bt.map { $0.map(abs) }
    func product(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { row in (0..<b[0].count).map { j in zip(row, b).reduce(0) { $0 + $1.0 * $1.1[j] } } }
    }
    func transpose(_ a: [[Double]]) -> [[Double]] { (0..<a[0].count).map { j in a.map { $0[j] } } }
    let (c, k, n, h, w) = (channels, outChannels, images, height, width)
    // |G| |g| |Gᵀ| for every (k, c).
    var u = [[[Double]]](repeating: [], count: k * c)
    for o in 0..<k {
        for i in 0..<c {
            let kernel: [[Double]] = (0..<3).map { a in
                (0..<3).map { b in
                    let value = transposed ? weights[((i * k + o) * 3 + (2 - a)) * 3 + (2 - b)] : weights[((o * c + i) * 3 + a) * 3 + b]
                    return abs(Double(value))
                }
            }
            u[o * c + i] = product(product(g, kernel), transpose(g))
        }
    }
    var result = [Double](repeating: 0, count: k * n * h * w)
    for image in 0..<n {
        for ti in 0..<(h + 3) / 4 {
            for tj in 0..<(w + 3) / 4 {
                // |Bᵀ| |d| |B| of each channel's 6×6 tile (zero outside the image).
                let v: [[[Double]]] = (0..<c).map { i in
                    let d: [[Double]] = (0..<6).map { a in
                        (0..<6).map { b in
                            let y = 4 * ti + a - 1, xx = 4 * tj + b - 1
                            guard y >= 0, y < h, xx >= 0, xx < w else { return 0 }
                            return abs(Double(x[((i * n + image) * h + y) * w + xx]))
                        }
                    }
                    return product(product(absBt, d), transpose(absBt))
                }
                for o in 0..<k {
                    var m = [[Double]](repeating: [Double](repeating: 0, count: 6), count: 6)
                    for i in 0..<c {
                        for a in 0..<6 { for b in 0..<6 { m[a][b] += u[o * c + i][a][b] * v[i][a][b] } }
                    }
                    let y = product(product(at, m), transpose(at))
                    for a in 0..<4 where 4 * ti + a < h {
                        for b in 0..<4 where 4 * tj + b < w {
                            result[((o * n + image) * h + 4 * ti + a) * w + 4 * tj + b] = y[a][b]
                        }
                    }
                }
            }
        }
    }
    return result
}

/// Our Winograd kernels' arithmetic in scalar Swift, operation for operation (`CWinograd`): the
/// same products, sums and fused multiply-adds in the same order, so its results are the kernels'
/// bits. x [C][N][H][W] (3×3, stride 1, padding 1), weights [K][C][3][3] (or `transposed`: the
/// backward-data convolution of [C][K][3][3]), bias [K] or nil; the result is [K][N][H][W].
func winogradReference(x: [Float], channels c: Int, images n: Int, height h: Int, width w: Int, weights: [Float],
                       outChannels k: Int, transposed: Bool = false, bias: [Float]? = nil) -> [Float] {
    let u = winogradReferenceWeights(weights, outChannels: transposed ? c : k, inChannels: transposed ? k : c,
                                     transposed: transposed)
    // Aᵀ of six values, as `output_transform6`.
    func outputTransform(_ m: [Float]) -> [Float] {
        let s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4]
        return [(m[0] + s12) + s34, d12.addingProduct(2, d34), s12.addingProduct(4, s34), d12.addingProduct(8, d34) + m[5]]
    }
    var y = [Float](repeating: 0, count: k * n * h * w)
    for image in 0..<n {
        for ti in 0..<(h + 3) / 4 {
            for tj in 0..<(w + 3) / 4 {
                let v = winogradReferenceTile(x, channels: c, images: n, height: h, width: w, image: image, ti, tj)
                for o in 0..<k {
                    // M[ξ] = Σ_c U[ξ][c][o] V[ξ][c], one fused multiply-add per channel in order.
                    let m: [Float] = (0..<36).map { xi in
                        var sum: Float = 0
                        for i in 0..<c { sum = sum.addingProduct(u[(xi * c + i) * k + o], v[xi][i]) }
                        return sum
                    }
                    let columns = (0..<6).map { b in outputTransform((0..<6).map { a in m[a * 6 + b] }) }
                    for a in 0..<4 where 4 * ti + a < h {
                        let row = outputTransform((0..<6).map { b in columns[b][a] })
                        for b in 0..<4 where 4 * tj + b < w {
                            y[((o * n + image) * h + 4 * ti + a) * w + 4 * tj + b] = bias.map { row[b] + $0[o] } ?? row[b]
                        }
                    }
                }
            }
        }
    }
    return y
}

/// `lsgd_winograd_weights` in scalar Swift: G g Gᵀ of each kernel of w [out][in][3][3] into
/// u [36][in][out], or (`transposed`) of each kernel turned by 180° into u [36][out][in].
func winogradReferenceWeights(_ weights: [Float], outChannels: Int, inChannels: Int, transposed: Bool) -> [Float] {
    let g = winogradG
    let rows = transposed ? outChannels : inChannels, cols = transposed ? inChannels : outChannels
    var u = [Float](repeating: 0, count: 36 * rows * cols)
    for o in 0..<outChannels {
        for i in 0..<inChannels {
            let kernel: [[Float]] = (0..<3).map { a in
                (0..<3).map { b in weights[(o * inChannels + i) * 9 + (transposed ? (2 - a) * 3 + (2 - b) : a * 3 + b)] }
            }
            let t: [[Float]] = (0..<6).map { r in
                (0..<3).map { j in g[r][0] * kernel[0][j] + g[r][1] * kernel[1][j] + g[r][2] * kernel[2][j] }
            }
            let (row, col) = transposed ? (o, i) : (i, o)
            for r in 0..<6 {
                for j in 0..<6 {
                    u[((r * 6 + j) * rows + row) * cols + col] = t[r][0] * g[j][0] + t[r][1] * g[j][1] + t[r][2] * g[j][2]
                }
            }
        }
    }
    return u
}

/// Bᵀ of six values, as `input_transform6`: fmadd(a, b, c) = c.addingProduct(a, b).
private func inputTransform(_ d: [Float]) -> [Float] {
    var t = [Float](repeating: 0, count: 6)
    t[0] = d[4].addingProduct(-5, d[2]).addingProduct(4, d[0])
    t[1] = (d[3] + d[4]).addingProduct(-4, d[1] + d[2])
    t[2] = (d[4] - d[3]).addingProduct(4, d[1] - d[2])
    t[3] = (d[4] - d[2]).addingProduct(2, d[3] - d[1])
    t[4] = (d[4] - d[2]).addingProduct(-2, d[3] - d[1])
    t[5] = d[5].addingProduct(-5, d[3]).addingProduct(4, d[1])
    return t
}

/// V[ξ][c] = Bᵀ d B of every channel's 6×6 input tile at tile row `ti`, column `tj` of `image`
/// (zeros outside it), as `transform_inputs`: columns first (along the rows of the tile), then rows.
private func winogradReferenceTile(_ x: [Float], channels c: Int, images n: Int, height h: Int, width w: Int,
                                   image: Int, _ ti: Int, _ tj: Int) -> [[Float]] {
    var v = [[Float]](repeating: [Float](repeating: 0, count: c), count: 36)
    for i in 0..<c {
        func value(_ a: Int, _ b: Int) -> Float {
            let yy = 4 * ti + a - 1, xx = 4 * tj + b - 1
            guard yy >= 0, yy < h, xx >= 0, xx < w else { return 0 }
            return x[((i * n + image) * h + yy) * w + xx]
        }
        let columns = (0..<6).map { b in inputTransform((0..<6).map { a in value(a, b) }) }
        for a in 0..<6 {
            let row = inputTransform((0..<6).map { b in columns[b][a] })
            for b in 0..<6 { v[a * 6 + b][i] = row[b] }
        }
    }
    return v
}

/// `lsgd_winograd_weight_gradient` in scalar Swift, operation for operation: per tile (image by
/// image, tile rows, tile columns) W = A dy Aᵀ (rows, then columns) and V = Bᵀ d B, then
/// dU[ξ][k][c] accumulated with one fused multiply-add per tile in tile order, then Gᵀ dU G with
/// products and sums in order. x [C][N][H][W], dy [K][N][H][W]; the result is dw [K][C][3][3].
func winogradReferenceWeightGradient(x: [Float], channels c: Int, images n: Int, height h: Int, width w: Int,
                                     dy: [Float], outChannels k: Int) -> [Float] {
    // A of four values, as `gradient_transform4`.
    func gradientTransform(_ o: [Float]) -> [Float] {
        let e = o[0] + o[2], f = o[1] + o[3], e4 = o[0].addingProduct(4, o[2]), f8 = (8 * o[3]).addingProduct(2, o[1])
        return [o[0], e + f, e - f, e4 + f8, e4 - f8, o[3]]
    }
    var du = [Float](repeating: 0, count: 36 * k * c)
    for image in 0..<n {
        for ti in 0..<(h + 3) / 4 {
            for tj in 0..<(w + 3) / 4 {
                let v = winogradReferenceTile(x, channels: c, images: n, height: h, width: w, image: image, ti, tj)
                for o in 0..<k {
                    func value(_ a: Int, _ b: Int) -> Float {
                        let yy = 4 * ti + a, xx = 4 * tj + b
                        guard yy < h, xx < w else { return 0 }
                        return dy[((o * n + image) * h + yy) * w + xx]
                    }
                    let rows = (0..<4).map { a in gradientTransform((0..<4).map { b in value(a, b) }) }
                    var wt = [Float](repeating: 0, count: 36)
                    for j in 0..<6 {
                        let column = gradientTransform((0..<4).map { a in rows[a][j] })
                        for i in 0..<6 { wt[i * 6 + j] = column[i] }
                    }
                    for xi in 0..<36 {
                        for i in 0..<c { du[(xi * k + o) * c + i] = du[(xi * k + o) * c + i].addingProduct(wt[xi], v[xi][i]) }
                    }
                }
            }
        }
    }
    let g = winogradG
    var dw = [Float](repeating: 0, count: k * c * 9)
    for o in 0..<k {
        for i in 0..<c {
            func at(_ xi: Int) -> Float { du[(xi * k + o) * c + i] }
            let t: [[Float]] = (0..<3).map { a in
                (0..<6).map { j in (1..<6).reduce(g[0][a] * at(j)) { $0 + g[$1][a] * at($1 * 6 + j) } }
            }
            for a in 0..<3 {
                for b in 0..<3 { dw[(o * c + i) * 9 + a * 3 + b] = (1..<6).reduce(t[a][0] * g[0][b]) { $0 + t[a][$1] * g[$1][b] } }
            }
        }
    }
    return dw
}

/// The rounding bound of `lsgd_winograd_weight_gradient`, per weight: the algorithm on magnitudes,
/// |Gᵀ| [Σ_t (|A| |dy_t| |Aᵀ|) ⊙ (|Bᵀ| |d_t| |B|)] |G|, which bounds every term any float32
/// evaluation rounds; its error is at most (T + 22)·u times it (T tiles summed, plus the
/// transforms' roundings: 4 for V, 4 for W, 7 for each side of G), where a direct sum's bound uses
/// Σ|x·dy|. x [C][N][H][W], dy [K][N][H][W]; the result is [K][C][3][3].
func winogradWeightGradientMagnitudes(x: [Float], channels c: Int, images n: Int, height h: Int, width w: Int,
                                      dy: [Float], outChannels k: Int) -> [Double] {
    let bt: [[Double]] = [[4, 0, 5, 0, 1, 0], [0, 4, 4, 1, 1, 0], [0, 4, 4, 1, 1, 0],
                          [0, 2, 1, 2, 1, 0], [0, 2, 1, 2, 1, 0], [0, 4, 0, 5, 0, 1]]
    let a: [[Double]] = [[1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [1, 2, 4, 8], [1, 2, 4, 8], [0, 0, 0, 1]]
    let g = winogradG.map { $0.map { abs(Double($0)) } }
    func product(_ p: [[Double]], _ q: [[Double]]) -> [[Double]] {
        p.map { row in (0..<q[0].count).map { j in zip(row, q).reduce(0) { $0 + $1.0 * $1.1[j] } } }
    }
    func transpose(_ p: [[Double]]) -> [[Double]] { (0..<p[0].count).map { j in p.map { $0[j] } } }
    var sum = [Double](repeating: 0, count: k * c * 36)
    for image in 0..<n {
        for ti in 0..<(h + 3) / 4 {
            for tj in 0..<(w + 3) / 4 {
                let v: [[Double]] = (0..<c).map { i in
                    let d: [[Double]] = (0..<6).map { r in
                        (0..<6).map { q in
                            let yy = 4 * ti + r - 1, xx = 4 * tj + q - 1
                            guard yy >= 0, yy < h, xx >= 0, xx < w else { return 0 }
                            return abs(Double(x[((i * n + image) * h + yy) * w + xx]))
                        }
                    }
                    return product(product(bt, d), transpose(bt)).flatMap { $0 }
                }
                for o in 0..<k {
                    let d: [[Double]] = (0..<4).map { r in
                        (0..<4).map { q in
                            let yy = 4 * ti + r, xx = 4 * tj + q
                            guard yy < h, xx < w else { return 0 }
                            return abs(Double(dy[((o * n + image) * h + yy) * w + xx]))
                        }
                    }
                    let wt = product(product(a, d), transpose(a)).flatMap { $0 }
                    for i in 0..<c { for xi in 0..<36 { sum[(o * c + i) * 36 + xi] += wt[xi] * v[i][xi] } }
                }
            }
        }
    }
    var result = [Double](repeating: 0, count: k * c * 9)
    for p in 0..<k * c {
        let m = (0..<6).map { r in (0..<6).map { q in sum[p * 36 + r * 6 + q] } }
        let dw = product(product(transpose(g), m), g)
        for r in 0..<3 { for q in 0..<3 { result[p * 9 + r * 3 + q] = dw[r][q] } }
    }
    return result
}

/// G of F(4×4, 3×3), as `CWinograd`'s floats.
let winogradG: [[Float]] = [[Float(1) / 4, 0, 0], [-Float(1) / 6, -Float(1) / 6, -Float(1) / 6],
                            [-Float(1) / 6, Float(1) / 6, -Float(1) / 6], [Float(1) / 24, Float(1) / 12, Float(1) / 6],
                            [Float(1) / 24, -Float(1) / 12, Float(1) / 6], [0, 0, 1]]
