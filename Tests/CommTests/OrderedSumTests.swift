import XCTest
import Comm
import Tensor

/// The one fixed-order reduction kernel: ((s₀ + s₁) + …) + s_{n−1}, then / divisor, bitwise, in
/// place or not, across cache blocks.
final class OrderedSumTests: XCTestCase {
    static func reference(_ sources: [[Float]], divisor: Float?) -> [Float] {
        (0..<sources[0].count).map { i in
            var acc = sources[0][i]
            for s in sources.dropFirst() { acc += s[i] }
            return divisor.map { acc / $0 } ?? acc
        }
    }

    func testKernelIsTheLeftToRightSumBitwise() {
        let count = 2 * OrderedSum.blockSize + 37, offset = 5, n = count - offset - 3
        var rng = RandomGenerator(seed: 3)
        for sources in 1...5 {
            for divisor in [nil, Float(sources), 3, 0.1] as [Float?] {
                for targetKind in 0..<3 where targetKind < 2 || sources > 1 {  // separate, into s₀, into s₁
                    let values = (0..<sources).map { _ in (0..<count).map { _ in rng.nextNormal() * 100 } }
                    let buffers = values.map { FloatBuffer($0) }
                    let separate = FloatBuffer(count: count)
                    let target = targetKind == 0 ? separate.pointer : buffers[targetKind - 1].pointer
                    let copy = FloatBuffer(count: count)
                    OrderedSum.reduce(buffers.map(\.pointer)[...], into: target, offset: offset, count: n,
                                      divisor: divisor, copies: [target, copy.pointer])
                    let expected = Self.reference(values.map { Array($0[offset..<(offset + n)]) }, divisor: divisor)
                    let got = (offset..<(offset + n)).map { target[$0] }
                    XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern),
                                   "\(sources) sources, divisor \(String(describing: divisor)), target \(targetKind)")
                    XCTAssertEqual((offset..<(offset + n)).map { copy[$0].bitPattern }, expected.map(\.bitPattern))
                    XCTAssertEqual(copy[0], 0, "outside the range nothing is written")
                }
            }
        }
    }

    func testExactReciprocalIsThePowerOfTwoRule() {
        XCTAssertEqual(Float(4).exactReciprocal, 0.25)
        XCTAssertEqual(Float(1).exactReciprocal, 1)
        XCTAssertNil(Float(3).exactReciprocal)
        XCTAssertNil(Float(0).exactReciprocal)
        XCTAssertNil(Float.greatestFiniteMagnitude.exactReciprocal)
    }
}
