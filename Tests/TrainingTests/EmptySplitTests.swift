import Data
import TrainingTestSupport
import XCTest
@testable import Training

/// A split without samples is refused by the setup both trainers share, not evaluated to NaN.
final class EmptySplitTests: XCTestCase {
    func testTrainersRefuseAnEmptyTestSplit() throws {
        let data = try tinyData()
        let train = data.train
        let empty = Dataset(name: "synthetic-test", channels: train.channels, height: train.height, width: train.width,
                            classes: train.classes, images: [], labels: [])
        let split = DataSplit(train: train, test: empty, normalization: data.normalization)
        XCTAssertThrowsError(try Trainer(config: tinyConfig(), data: split, communicator: InProcessCommunicatorFactory.make(1))) {
            XCTAssertEqual("\($0)", "the test split (synthetic-test) is empty; a run needs samples in both splits")
        }
        var async = tinyConfig()
        async.algorithm.kind = .async
        XCTAssertThrowsError(try RunSetup(config: async, data: split, workers: async.asyncWorkers)) {
            XCTAssertTrue("\($0)".contains("the test split (synthetic-test) is empty"), "\($0)")
        }
    }
}
