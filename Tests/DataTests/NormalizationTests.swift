import Data
import TestSupport
import XCTest

final class NormalizationTests: XCTestCase {
    /// Per-channel mean and population std of `dataset`, in Double.
    private func moments(_ dataset: Dataset) -> [(mean: Double, std: Double)] {
        let plane = dataset.height * dataset.width
        return (0..<dataset.channels).map { c in
            var sum = 0.0, sumSquares = 0.0
            for n in 0..<dataset.count {
                for i in 0..<plane {
                    let x = Double(dataset.images[n * dataset.sampleSize + c * plane + i])
                    sum += x
                    sumSquares += x * x
                }
            }
            let count = Double(dataset.count * plane)
            let mean = sum / count
            return (mean, (sumSquares / count - mean * mean).squareRoot())
        }
    }

    func testTrainingSetHasZeroMeanUnitPopulationStdPerChannel() throws {
        let config = SyntheticConfig(trainCount: 200, testCount: 50, channels: 3, height: 6, width: 5, classes: 4, seed: 3)
        let split = try loadDataset(.synthetic, directory: nil, synthetic: config)
        for (c, m) in moments(split.train).enumerated() {
            XCTAssertEqual(m.mean, 0, accuracy: 1e-4, "channel \(c)")
            XCTAssertEqual(m.std, 1, accuracy: 1e-4, "channel \(c)")
        }
    }

    /// Hand-checked statistics: train pixels of the tiny IDX set, and test images normalized
    /// with the train statistics (not their own), 1e-5.
    func testTestSetUsesTrainingStatistics() throws {
        let directory = try makeTemporaryDirectory(self)
        let (train, test) = try writeTinyIDXDataset(in: directory, gzip: false)
        let split = try loadDataset(.mnist, directory: directory)
        let x = train.pixels.map { Double($0) / 255 }
        let mean = x.reduce(0, +) / Double(x.count)
        let std = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)).squareRoot()
        assertClose(split.normalization.mean, [Float(mean)], relative: 1e-6)
        assertClose(split.normalization.std, [Float(std)], relative: 1e-6)
        let expected = test.pixels.map { Float((Double($0) / 255 - mean) / std) }
        assertClose(split.test.images, expected, relative: 1e-5, absolute: 1e-5)
        XCTAssertNotEqual(moments(split.test)[0].mean, 0, accuracy: 1e-3, "test set must not be normalized with its own mean")
    }

    func testNormalizationIsCodable() throws {
        let value = Normalization(mean: [0.1, 0.2], std: [0.3, 0.4])
        let decoded = try JSONDecoder().decode(Normalization.self, from: JSONEncoder().encode(value))
        XCTAssertEqual(decoded, value)
    }
}
