import Data
import XCTest

final class SyntheticDatasetTests: XCTestCase {
    private let small = SyntheticConfig(trainCount: 400, testCount: 200, channels: 2, height: 8, width: 8, classes: 5, seed: 11)

    func testShapeAndBalancedLabels() throws {
        let split = try loadDataset(.synthetic, directory: nil, synthetic: small)
        XCTAssertEqual(split.train.count, 400)
        XCTAssertEqual(split.test.count, 200)
        XCTAssertEqual([split.train.channels, split.train.height, split.train.width, split.train.classes], [2, 8, 8, 5])
        XCTAssertEqual(split.train.images.count, 400 * 128)
        let perClass = Dictionary(grouping: split.train.labels, by: { $0 }).mapValues(\.count)
        XCTAssertEqual(perClass, [0: 80, 1: 80, 2: 80, 3: 80, 4: 80])
    }

    func testDeterministicFromSeed() throws {
        let a = try loadDataset(.synthetic, directory: nil, synthetic: small)
        let b = try loadDataset(.synthetic, directory: nil, synthetic: small)
        XCTAssertEqual(a.train.images, b.train.images)
        XCTAssertEqual(a.test.labels, b.test.labels)
        var other = small
        other.seed = 12
        let c = try loadDataset(.synthetic, directory: nil, synthetic: other)
        XCTAssertNotEqual(a.train.images, c.train.images)
        XCTAssertNotEqual(a.train.images, a.test.images.prefix(a.train.images.count).map { $0 })
    }

    /// A nearest-class-mean classifier fit on train: far above chance (20 %) on test, but the
    /// noise keeps it below 100 % so the task is not trivial.
    func testLearnableButNotTrivial() throws {
        let split = try loadDataset(.synthetic, directory: nil, synthetic: small)
        let size = split.train.sampleSize
        var means = [Double](repeating: 0, count: 5 * size)
        for n in 0..<split.train.count {
            let k = Int(split.train.labels[n])
            for i in 0..<size { means[k * size + i] += Double(split.train.images[n * size + i]) / 80 }
        }
        var correct = 0
        for n in 0..<split.test.count {
            let distances = (0..<5).map { k in
                (0..<size).reduce(0.0) { d, i in
                    let diff = Double(split.test.images[n * size + i]) - means[k * size + i]
                    return d + diff * diff
                }
            }
            if distances.firstIndex(of: distances.min()!) == Int(split.test.labels[n]) { correct += 1 }
        }
        let accuracy = Double(correct) / Double(split.test.count)
        XCTAssertGreaterThan(accuracy, 0.6)
        XCTAssertLessThan(accuracy, 1.0)
    }

    func testInvalidConfigNamesTheField() {
        var bad = small
        bad.height = 0
        assertThrowsDataError(["height", "at least 1"]) { try loadDataset(.synthetic, directory: nil, synthetic: bad) }
    }

    func testConfigDecodesWithDefaults() throws {
        let json = #"{"classes": 3, "seed": 9}"#
        let config = try JSONDecoder().decode(SyntheticConfig.self, from: json.data(using: .utf8)!)
        XCTAssertEqual(config, SyntheticConfig(classes: 3, seed: 9))
        XCTAssertEqual(SyntheticConfig().trainCount, 2048)
        XCTAssertEqual(SyntheticConfig().testCount, 512)
    }
}
