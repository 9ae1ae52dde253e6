import Config
import Data
import Foundation
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// A checkpoint records its text corpus's fingerprint: `--resume` on the same corpus continues,
/// on a corpus whose bytes changed (same path, same size) it refuses with a sentence.
final class TextCorpusResumeTests: XCTestCase {
    private func textData(changing index: Int? = nil) -> DataSplit {
        let vocabulary = Array("abcde".utf8)
        var ids = (0..<200).map { UInt8($0 * 7 % 5) }
        if let index { ids[index] = (ids[index] + 1) % 5 }
        func split(_ range: Range<Int>, _ name: String, shift: Bool) -> Dataset {
            Dataset(name: name, windows: TokenWindows(ids: Array(ids[range]), contextLength: 4, randomShift: shift,
                                                      vocabulary: vocabulary))
        }
        return DataSplit(train: split(0..<180, "text-train", shift: true), test: split(180..<200, "text-test", shift: false),
                         normalization: Normalization(mean: [], std: []))
    }

    func testResumeRefusesAChangedCorpus() throws {
        let config = tinyConfig {
            $0.data.dataset = .text; $0.data.contextLength = 4; $0.model.kind = .gptMicro; $0.schedule.batchSize = 2
            $0.schedule.epochs = 1; $0.execution.checkpointEvery = "3"
        }
        let dir = try makeTemporaryDirectory(self)
        let data = textData()
        XCTAssertEqual(data.textFingerprint, textData().textFingerprint)
        XCTAssertNotEqual(textData(changing: 7).textFingerprint, data.textFingerprint)
        XCTAssertNil(try tinyData().textFingerprint, "image datasets have none")
        let policy = try XCTUnwrap(CheckpointPolicy(config: config, directory: dir, stepsPerEpoch: 1))
        try train(config, data: data) { t in
            if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
        }
        let same = try Trainer(config: config, data: textData(), communicator: InProcessCommunicatorFactory.make(1))
        XCTAssertNoThrow(try Checkpoint.restoreLatest(into: same, directory: dir))
        let changed = try Trainer(config: config, data: textData(changing: 7), communicator: InProcessCommunicatorFactory.make(1))
        XCTAssertThrowsError(try Checkpoint.restoreLatest(into: changed, directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("was made on a different text corpus"), "\(error)")
            XCTAssertTrue("\(error)".contains("restore the corpus, or start a new run (--out)"), "\(error)")
        }
    }
}
