import XCTest
@testable import Tensor
import TestSupport

final class RandomGeneratorTests: XCTestCase {
    func testSameSeedAndStreamGiveSameSequence() {
        var a = RandomGenerator(seed: 42, stream: [Stream.shuffle, 3])
        var b = RandomGenerator(seed: 42, stream: [Stream.shuffle, 3])
        XCTAssertEqual((0..<100).map { _ in a.next() }, (0..<100).map { _ in b.next() })
    }

    func testFixedArityInitializerEqualsTheArrayForm() {
        var a = RandomGenerator(seed: 9, stream: [3, 1, 4, 1])
        var b = RandomGenerator(seed: 9, 3, 1, 4, 1)
        XCTAssertEqual((0..<16).map { _ in a.next() }, (0..<16).map { _ in b.next() })
    }

    func testDifferentStreamsDiffer() {
        var a = RandomGenerator(seed: 42, stream: [Stream.shuffle, 3])
        var b = RandomGenerator(seed: 42, stream: [Stream.shuffle, 4])
        XCTAssertNotEqual((0..<8).map { _ in a.next() }, (0..<8).map { _ in b.next() })
    }

    func testNormalMomentsAndUniformRange() {
        var g = RandomGenerator(seed: 7)
        let n = 200_000
        var sum = 0.0, sumSq = 0.0
        for _ in 0..<n { let x = Double(g.nextNormal()); sum += x; sumSq += x * x }
        XCTAssertEqual(sum / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(sumSq / Double(n), 1, accuracy: 0.01)
        for _ in 0..<10_000 { let u = g.nextFloat(); XCTAssert(u >= 0 && u < 1) }
    }

    func testPermutationIsAPermutation() {
        var g = RandomGenerator(seed: 1)
        let p = g.permutation(1000)
        XCTAssertEqual(p.sorted(), Array(0..<1000))
        XCTAssertNotEqual(p, Array(0..<1000))
    }

    func testNextIntBelowIsInRangeAndCoversIt() {
        var g = RandomGenerator(seed: 9)
        var seen = Set<Int>()
        for _ in 0..<1000 { let v = g.nextInt(below: 7); XCTAssert((0..<7).contains(v)); seen.insert(v) }
        XCTAssertEqual(seen.count, 7)
    }
}
