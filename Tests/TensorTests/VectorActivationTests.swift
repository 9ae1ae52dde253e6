import XCTest
@testable import Tensor
import TestSupport

/// The SIMD element-wise kernels against scalar loops, for lengths around the 16- and 32-lane
/// blocks (tails included) and with the output aliasing an input where the kernel allows it.
final class VectorActivationTests: XCTestCase {
    let lengths = [0, 1, 15, 16, 17, 31, 32, 33, 100]

    func random(_ n: Int, seed: UInt64) -> [Float] {
        var g = RandomGenerator(seed: seed)
        return (0..<n).map { _ in g.nextNormal() }
    }

    func testElementwiseKernelsMatchScalarLoops() {
        for n in lengths {
            let a = random(n, seed: 1), b = random(n, seed: 2)
            var y = [Float](repeating: .nan, count: n)
            Vector.relu(a, into: &y, count: n)
            XCTAssertEqual(y, a.map { max($0, 0) }, "relu \(n)")
            Vector.reluBackward(a, output: b, into: &y, count: n)
            XCTAssertEqual(y, zip(a, b).map { $1 > 0 ? $0 : 0 }, "reluBackward \(n)")
            Vector.add(a, b, into: &y, count: n)
            XCTAssertEqual(y, zip(a, b).map { $0 + $1 }, "add \(n)")
            Vector.addReLU(a, b, into: &y, count: n)
            XCTAssertEqual(y, zip(a, b).map { max($0 + $1, 0) }, "addReLU \(n)")
            for relu in [false, true] {
                Vector.affine(a, scale: 1.5, shift: -0.25, relu: relu, into: &y, count: n)
                assertClose(y, a.map { relu ? max($0 * 1.5 - 0.25, 0) : $0 * 1.5 - 0.25 }, "affine \(n)")
            }
            var inPlace = a
            inPlace.withUnsafeMutableBufferPointer { p in
                if let base = p.baseAddress { Vector.relu(base, into: base, count: n) }
            }
            XCTAssertEqual(inPlace, a.map { max($0, 0) }, "relu in place \(n)")
        }
    }

    func testGradientKernelsMatchScalarLoops() {
        for n in lengths {
            let dy = random(n, seed: 3), y = random(n, seed: 4), x = random(n, seed: 5)
            for masked in [false, true] {
                let g = masked ? zip(dy, y).map { $1 > 0 ? $0 : 0 } : dy
                let sums = y.withUnsafeBufferPointer { py in
                    Vector.gradientSums(dy, reluOutput: masked ? py.baseAddress : nil, x, count: n)
                }
                let dot = zip(g, x).map { Double($0 * $1) }.reduce(0, +)
                assertClose(sums.sum, Float(g.map(Double.init).reduce(0, +)), relative: 1e-5, absolute: 1e-5)
                assertClose(sums.dot, Float(dot), relative: 1e-5, absolute: 1e-5)
                var dx = [Float](repeating: .nan, count: n)
                y.withUnsafeBufferPointer { py in
                    Vector.gradientAffine(dy, reluOutput: masked ? py.baseAddress : nil, x, a: 2, b: -0.5, c: 0.125,
                                          into: &dx, count: n)
                }
                assertClose(dx, (0..<n).map { 2 * g[$0] + (-0.5 * x[$0] + 0.125) }, "gradientAffine \(n)")
            }
            let mean: Float = 0.3
            assertClose(Vector.squaredDeviations(x, from: mean, count: n),
                        Float(x.map { Double(($0 - mean) * ($0 - mean)) }.reduce(0, +)), relative: 1e-5, absolute: 1e-5)
        }
    }
}
