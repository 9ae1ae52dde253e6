import XCTest
@testable import Tensor

final class VectorPoolingTests: XCTestCase {
    /// The SIMD 2×2 max-pool against a loop over each window with `>` (first maximum wins), for
    /// widths below, at and above the 4/8/16-lane blocks and values with many ties.
    func testMaxPool2x2MatchesWindowLoopIncludingTies() {
        var g = RandomGenerator(seed: 7)
        for (rows, width) in [(2, 2), (4, 6), (2, 8), (6, 10), (4, 14), (8, 16), (6, 28), (2, 34)] {
            let x = (0..<(rows * width)).map { _ in (g.nextNormal() * 2).rounded() / 2 }
            let count = rows * width / 4
            var y = [Float](repeating: .nan, count: count), index = [Int32](repeating: -1, count: count)
            var pairMax = [Float](repeating: 0, count: rows * width / 2), pairIndex = [Int32](repeating: 0, count: rows * width / 2)
            Vector.maxPool2x2(x, rows: rows, width: width, into: &y, indices: &index, pairMax: &pairMax, pairIndex: &pairIndex)
            for oy in 0..<(rows / 2) {
                for ox in 0..<(width / 2) {
                    var best = -Float.infinity, at = -1
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let i = (2 * oy + dy) * width + 2 * ox + dx
                        if at < 0 || x[i] > best { best = x[i]; at = i }
                    }
                    let o = oy * width / 2 + ox
                    XCTAssertEqual(y[o], best, "\(rows)×\(width) value at \(o)")
                    XCTAssertEqual(Int(index[o]), at, "\(rows)×\(width) index at \(o)")
                }
            }
        }
    }

    /// The 2×2 max-pool's backward against its definition — dx zeroed, then each output's gradient
    /// added at its index (where the output is positive, with the fused ReLU) — bitwise, −0
    /// gradients, zero and tied outputs included.
    func testMaxPool2x2BackwardMatchesZeroThenScatter() {
        var g = RandomGenerator(seed: 9)
        for (rows, width) in [(2, 2), (4, 6), (6, 10), (8, 16), (6, 28)] {
            let x = (0..<(rows * width)).map { _ in (g.nextNormal() * 2).rounded() / 2 }
            let count = rows * width / 4
            var y = [Float](repeating: 0, count: count), index = [Int32](repeating: 0, count: count)
            var pairMax = [Float](repeating: 0, count: rows * width / 2), pairIndex = [Int32](repeating: 0, count: rows * width / 2)
            Vector.maxPool2x2(x, rows: rows, width: width, into: &y, indices: &index, pairMax: &pairMax, pairIndex: &pairIndex)
            let dy = (0..<count).map { o -> Float in o % 5 == 0 ? -0.0 : g.nextNormal() }
            for relu in [false, true] {
                var expected = [Float](repeating: 0, count: rows * width)
                for o in 0..<count where !relu || y[o] > 0 { expected[Int(index[o])] += dy[o] }
                var got = [Float](repeating: .nan, count: rows * width)
                y.withUnsafeBufferPointer { yp in
                    Vector.maxPool2x2Backward(dy, reluOutput: relu ? yp.baseAddress : nil, indices: index, rows: rows,
                                              width: width, into: &got)
                }
                XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "\(rows)×\(width) relu \(relu)")
            }
        }
    }
}
