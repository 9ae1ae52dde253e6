import XCTest
@testable import Comm
import Tensor
import TestSupport

/// Each codec's encode/decode error against its bound on random data, top-k's exact selection,
/// the sizes the counters and the network model charge, and the flag's error sentence.
final class PayloadCodecTests: XCTestCase {
    /// D(C(x)) of a whole buffer through the block kernels.
    static func roundTrip(_ codec: PayloadCodec, _ x: [Float]) -> [Float] {
        let n = x.count, payload = UnsafeMutableRawPointer.allocate(byteCount: codec.slotBytes(n) + 4, alignment: 16)
        defer { payload.deallocate() }
        var out = [Float](repeating: 0, count: n)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<PayloadCodec.blocks(n) {
                    let lo = b * PayloadCodec.int8Block, m = min(PayloadCodec.int8Block, n - lo)
                    codec.encodeBlock(src.baseAddress! + lo, block: b, n: m, count: n, into: payload)
                }
                for b in 0..<PayloadCodec.blocks(n) {
                    let lo = b * PayloadCodec.int8Block, m = min(PayloadCodec.int8Block, n - lo)
                    codec.decodeBlock(payload, block: b, n: m, count: n, into: dst.baseAddress! + lo)
                }
            }
        }
        return out
    }

    static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        return (0..<n).map { _ in rng.nextNormal() * scale }
    }

    func testHalfPrecisionsStayWithinHalfAnUlpOfNormalValues() throws {
        let x = Self.random(3 * 256 + 17, seed: 1, scale: 10)
        for (kind, bound) in [(PayloadCodecKind.fp16, Float(0x1p-11)), (.bf16, Float(0x1p-8))] {
            let y = Self.roundTrip(try PayloadCodec(kind: kind), x)
            for i in x.indices where abs(x[i]) >= 0x1p-14 {  // fp16's smallest normal
                XCTAssertLessThanOrEqual(abs(y[i] - x[i]), bound * abs(x[i]), "\(kind) at \(i): \(x[i]) → \(y[i])")
            }
        }
    }

    /// The integer conversions are Swift's Float16 conversions, bit for bit, on normal, subnormal,
    /// halfway and zero values.
    func testFp16KernelsAreSwiftsConversions() {
        var rng = RandomGenerator(seed: 9)
        var values: [Float] = [0, -0, 1, -1, 65504, 0x1p-14, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26, 2049, 2051, 0x1.ffcp-15]
        for _ in 0..<20_000 { values.append(rng.nextNormal() * Float(sign: .plus, exponent: rng.nextInt(below: 40) - 30, significand: 1)) }
        for x in values {
            let h = PayloadCodec.fp16(x)
            XCTAssertEqual(h, Float16(x).bitPattern, "\(x)")
            XCTAssertEqual(PayloadCodec.fromFp16(h).bitPattern, Float(Float16(bitPattern: h)).bitPattern, "\(x)")
        }
    }

    func testFp16SaturatesInsteadOfOverflowing() throws {
        let y = Self.roundTrip(try PayloadCodec(kind: .fp16), [1e6, -1e6, 65504, 3])
        XCTAssertEqual(y, [65504, -65504, 65504, 3])
    }

    func testInt8ErrorIsAtMostHalfAScalePerBlock() throws {
        let n = 5 * 256 + 100
        var x = Self.random(n, seed: 2)
        for i in 256..<512 { x[i] *= 1000 }  // blocks of very different ranges
        for i in 512..<768 { x[i] = 0 }      // an all-zero block decodes to zeros
        let y = Self.roundTrip(try PayloadCodec(kind: .int8), x)
        for b in 0..<PayloadCodec.blocks(n) {
            let block = (b * 256)..<min(n, (b + 1) * 256)
            let scale = block.map { abs(x[$0]) }.max()! / 127
            for i in block {
                // round(x/s)·s is within s/2 in exact arithmetic; two Float roundings add a few ulps.
                XCTAssertLessThanOrEqual(abs(y[i] - x[i]), scale / 2 * (1 + 1e-5), "block \(b), element \(i)")
            }
        }
        XCTAssertEqual(Array(y[512..<768]), [Float](repeating: 0, count: 256))
    }

    func testInt8RoundsHalfwayCodesToEven() throws {
        // absmax 127 makes the scale 1: 2.5 → 2, 3.5 → 4, −2.5 → −2.
        XCTAssertEqual(Self.roundTrip(try PayloadCodec(kind: .int8), [127, 2.5, 3.5, -2.5, 0.5]), [127, 2, 4, -2, 0])
    }

    func testTopKKeepsExactlyTheLargestMagnitudesPerChunk() throws {
        let n = 2 * PayloadCodec.topkChunk + 1000
        let codec = try PayloadCodec(kind: .topk, ratio: 0.013)
        var x = Self.random(n, seed: 3)
        x[5] = 7; x[9] = -7  // a tie at the top, both kept
        let kept = codec.keptEntries(n)
        XCTAssertEqual(kept, 2 * 54 + 13, "⌈0.013·4096⌉ = 54 per full chunk, ⌈0.013·1000⌉ = 13 in the last")
        let (indices, values) = encodeTopK(codec, x)
        XCTAssertEqual(indices.count, kept)
        var lo = 0
        for chunkLength in [PayloadCodec.topkChunk, PayloadCodec.topkChunk, 1000] {
            let k = codec.kept(chunk: chunkLength)
            let expected = (lo..<(lo + chunkLength)).sorted { (abs(x[$0]), -$0) > (abs(x[$1]), -$1) }.prefix(k).sorted()
            let got = indices.filter { $0 >= lo && $0 < lo + chunkLength }
            XCTAssertEqual(got, Array(expected), "chunk at \(lo)")
            lo += chunkLength
        }
        for (i, v) in zip(indices, values) { XCTAssertEqual(v.bitPattern, x[i].bitPattern, "values travel exactly") }
    }

    func testTopKTiesGoToTheLowerIndex() throws {
        let codec = try PayloadCodec(kind: .topk, ratio: 0.5)  // 2 of 4
        XCTAssertEqual(encodeTopK(codec, [1, -3, 3, 3]).indices, [1, 2])
        XCTAssertEqual(encodeTopK(codec, [2, 2, 2, 2]).indices, [0, 1])
    }

    func testEncodedSizes() throws {
        XCTAssertEqual(try PayloadCodec(kind: .fp16).encodedBytes(1000), 2000)
        XCTAssertEqual(try PayloadCodec(kind: .bf16).encodedBytes(1000), 2000)
        XCTAssertEqual(try PayloadCodec(kind: .int8).encodedBytes(1000), 1000 + 4 * 4)
        XCTAssertEqual(try PayloadCodec(kind: .topk, ratio: 0.01).encodedBytes(10_000), 8 * (41 + 41 + 19))
        XCTAssertEqual(try PayloadCodec(kind: .int8).slotBytes(1001), 1001 + 16 + 3)
    }

    func testRatioOutsideItsRangeIsASentence() {
        for bad in [0, 1.5, -0.1] {
            XCTAssertThrowsError(try PayloadCodec(kind: .topk, ratio: bad)) { error in
                XCTAssertEqual("\(error)", "--compress-ratio must be greater than 0 and at most 1, got \(bad)")
            }
        }
    }

    private func encodeTopK(_ codec: PayloadCodec, _ x: [Float]) -> (indices: [Int], values: [Float]) {
        let n = x.count, k = codec.keptEntries(n)
        let payload = UnsafeMutableRawPointer.allocate(byteCount: codec.slotBytes(n), alignment: 16)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: PayloadCodec.topkChunk)
        defer { payload.deallocate(); scratch.deallocate() }
        x.withUnsafeBufferPointer { codec.encodeTopK($0.baseAddress!, count: n, into: payload, magnitudes: scratch, zeroKeptIn: nil) }
        let indices = (0..<k).map { Int(payload.load(fromByteOffset: 4 * $0, as: UInt32.self)) }
        let values = (0..<k).map { payload.load(fromByteOffset: 4 * k + 4 * $0, as: Float.self) }
        return (indices, values)
    }
}
