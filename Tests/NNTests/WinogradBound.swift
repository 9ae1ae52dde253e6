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
