import XCTest
@testable import Tensor
import TestSupport

final class BLASTests: XCTestCase {
    func testGemmMatchesNaiveProductWithTransposes() {
        var g = RandomGenerator(seed: 3)
        let m = 5, n = 7, k = 4
        let a = (0..<(m * k)).map { _ in g.nextNormal() }     // A stored as [k, m] when transposed
        let b = (0..<(k * n)).map { _ in g.nextNormal() }     // B stored as [n, k] when transposed
        var c = [Float](repeating: 1, count: m * n)
        // C = 2 · Aᵀ · Bᵀ + 0.5 · C with A: [k, m], B: [n, k]
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            BLAS.gemm(transA: true, transB: true, m: m, n: n, k: k, alpha: 2, a: pa.baseAddress!, lda: m,
                      b: pb.baseAddress!, ldb: k, beta: 0.5, c: pc.baseAddress!, ldc: n)
        } } }
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Float = 0
            for p in 0..<k { s += a[p * m + i] * b[j * k + p] }
            expected[i * n + j] = 2 * s + 0.5
        } }
        assertClose(c, expected, relative: 1e-5, absolute: 1e-5)
    }

    func testVectorReductions() {
        let x: [Float] = (0..<37).map { Float($0) * 0.5 }
        let y: [Float] = (0..<37).map { Float(37 - $0) }
        x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in
            assertClose(Vector.dot(px.baseAddress!, py.baseAddress!, count: 37),
                        zip(x, y).map(*).reduce(0, +), relative: 1e-6)
            assertClose(Vector.sum(px.baseAddress!, count: 37), x.reduce(0, +), relative: 1e-6)
        } }
    }
}

final class BLASCoreTypeTests: XCTestCase {
    func testPrescottFallbackIsReplacedByTheCPUsFamily() {
        let sapphire: Set<Substring> = ["avx2", "fma", "avx512f", "avx512bw", "avx512_bf16"]
        XCTAssertEqual(BLAS.betterCoreType(current: "Prescott", cpuFlags: sapphire), "SkylakeX")
        XCTAssertEqual(BLAS.betterCoreType(current: "Prescott", cpuFlags: ["avx2", "fma", "avx512f", "avx512bw"]), "SkylakeX")
        XCTAssertEqual(BLAS.betterCoreType(current: "Prescott", cpuFlags: ["avx2", "fma"]), "Haswell")
        XCTAssertNil(BLAS.betterCoreType(current: "Prescott", cpuFlags: ["sse3"]))
        XCTAssertNil(BLAS.betterCoreType(current: "Zen", cpuFlags: sapphire), "a recognised CPU keeps OpenBLAS's choice")
    }
}
