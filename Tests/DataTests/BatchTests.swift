import Data
import Tensor
import XCTest

final class BatchTests: XCTestCase {
    /// 4 samples of 2×2×3; element (n, c, h, w) = 1000n + 100c + 10h + w, label 10 + n.
    private let tiny: Dataset = {
        var images: [Float] = []
        for n in 0..<4 { for c in 0..<2 { for h in 0..<2 { for w in 0..<3 { images.append(Float(1000 * n + 100 * c + 10 * h + w)) } } } }
        return Dataset(name: "tiny", channels: 2, height: 2, width: 3, classes: 20, images: images, labels: [10, 11, 12, 13])
    }()

    private func batch(_ dataset: Dataset, _ indices: [Int], _ augmentation: Augmentation, seed: UInt64 = 0) -> ([Float], [Int32]) {
        var images = [Float](repeating: .nan, count: indices.count * dataset.sampleSize)
        var labels = [Int32](repeating: -1, count: indices.count)
        var rng = RandomGenerator(seed: seed, stream: [Stream.augmentation, 0, 0, 0])
        images.withUnsafeMutableBufferPointer { img in
            labels.withUnsafeMutableBufferPointer { lab in
                fillBatch(from: dataset, indices: indices[...], images: img.baseAddress!, labels: lab.baseAddress!,
                          augmentation: augmentation, rng: &rng)
            }
        }
        return (images, labels)
    }

    func testLayoutIsChannelMajorWithBatchInside() {
        let indices = [2, 0, 3]
        let (images, labels) = batch(tiny, indices, Augmentation())
        XCTAssertEqual(labels, [12, 10, 13])
        let (N, H, W) = (3, 2, 3)
        for c in 0..<2 { for n in 0..<N { for h in 0..<H { for w in 0..<W {
            let expected = Float(1000 * indices[n] + 100 * c + 10 * h + w)
            XCTAssertEqual(images[((c * N + n) * H + h) * W + w], expected, "(c \(c), n \(n), h \(h), w \(w))")
        } } } }
    }

    /// Images have one label per sample: fillBatch writes N labels and nothing after them.
    func testImageBatchesWriteOneLabelPerSample() {
        XCTAssertEqual(tiny.labelsPerSample, 1)
        XCTAssertTrue(tiny.vocabulary.isEmpty)
        var labels = [Int32](repeating: -1, count: 4)
        var images = [Float](repeating: 0, count: 3 * tiny.sampleSize)
        var rng = RandomGenerator(seed: 1)
        fillBatch(from: tiny, indices: [3, 1, 2][...], images: &images, labels: &labels, augmentation: Augmentation(), rng: &rng)
        XCTAssertEqual(labels, [13, 11, 12, -1])
    }

    /// A 1×3×3 image with distinct pixels 1...9; every augmented copy must be one of the
    /// shifted (|dy|, |dx| ≤ 1, zero-filled) and possibly mirrored versions, and all 18 occur.
    func testCropAndFlipProduceExactlyTheExpectedVariants() {
        let image = Dataset(name: "one", channels: 1, height: 3, width: 3, classes: 1,
                            images: (1...9).map(Float.init), labels: [0])
        func variant(dy: Int, dx: Int, flip: Bool) -> [Float] {
            (0..<9).map { i in
                let (h, w) = (i / 3, i % 3)
                let (y, x) = (h + dy, (flip ? 2 - w : w) + dx)
                return (0..<3).contains(y) && (0..<3).contains(x) ? Float(y * 3 + x + 1) : 0
            }
        }
        var expected: [[Float]: Int] = [:]
        for dy in -1...1 { for dx in -1...1 { for flip in [false, true] { expected[variant(dy: dy, dx: dx, flip: flip)] = 0 } } }
        XCTAssertEqual(expected.count, 18)
        for seed in 0..<400 {
            let (out, _) = batch(image, [0], Augmentation(cropPadding: 1, horizontalFlip: true), seed: UInt64(seed))
            guard expected[out] != nil else { return XCTFail("unexpected augmented image \(out)") }
            expected[out]! += 1
        }
        XCTAssert(expected.values.allSatisfy { $0 > 0 }, "some crop/flip never occurred: \(expected.values.sorted())")
    }

    func testFlipAloneMirrorsRowsAboutHalfTheTime() {
        let augmentation = Augmentation(horizontalFlip: true)
        var flipped = 0
        for seed in 0..<200 {
            let (out, _) = batch(tiny, [1], augmentation, seed: UInt64(seed))
            let original = Array(tiny.images[12..<24])
            let mirrored = stride(from: 0, to: 12, by: 3).flatMap { original[$0..<($0 + 3)].reversed() }
            if out == mirrored { flipped += 1 } else { XCTAssertEqual(out, original) }
        }
        // Binomial(200, 1/2): 100 ± 5σ (σ ≈ 7).
        XCTAssert((65...135).contains(flipped), "flipped \(flipped) of 200")
    }

    func testSameRngGivesSameBatch() {
        let augmentation = Augmentation(cropPadding: 1, horizontalFlip: true)
        XCTAssertEqual(batch(tiny, [0, 1, 2, 3], augmentation, seed: 4).0, batch(tiny, [0, 1, 2, 3], augmentation, seed: 4).0)
    }

    func testAugmentationDecodesWithDefaults() throws {
        let decoded = try JSONDecoder().decode(Augmentation.self, from: #"{"cropPadding": 4}"#.data(using: .utf8)!)
        XCTAssertEqual(decoded, Augmentation(cropPadding: 4, horizontalFlip: false))
        XCTAssertEqual(Augmentation(), Augmentation(cropPadding: 0, horizontalFlip: false))
        XCTAssertThrowsError(try JSONDecoder().decode(Augmentation.self, from: #"{"cropPadding": -1}"#.data(using: .utf8)!))
    }
}
