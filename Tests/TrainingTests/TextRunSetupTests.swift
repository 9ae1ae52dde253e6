import Config
import Data
import NN
import Foundation
import RunFiles
import TrainingTestSupport
import XCTest
@testable import Training

/// What the setup both trainers share does with a text dataset (T labels per sample) before a
/// sequence model exists: sizes, bits per character, the baseline, and refusing an image model.
final class TextRunSetupTests: XCTestCase {
    /// 120 tokens over a vocabulary of 5 bytes; train the first 108, test the last 12, T = 4.
    private func textData() -> DataSplit {
        let vocabulary = Array("abcde".utf8)
        let ids = (0..<120).map { UInt8($0 * 7 % 5) }
        func split(_ range: Range<Int>, _ name: String, shift: Bool) -> Dataset {
            Dataset(name: name, windows: TokenWindows(ids: Array(ids[range]), contextLength: 4, randomShift: shift,
                                                      vocabulary: vocabulary))
        }
        return DataSplit(train: split(0..<108, "text-train", shift: true), test: split(108..<120, "text-test", shift: false),
                         normalization: Normalization(mean: [], std: []))
    }

    private func textConfig() -> RunConfig {
        tinyConfig { $0.data.dataset = .text; $0.data.contextLength = 4; $0.execution.evalBatchSize = 10 }
    }

    func testTextSetupSizesLabelsPerTokenAndReportsBitsPerCharacter() throws {
        let data = textData()
        let setup = try RunSetup(config: textConfig(), data: data, workers: 1)
        XCTAssertEqual(setup.spec.classes, 5)
        XCTAssertEqual([setup.spec.channels, setup.spec.height, setup.spec.width], [1, 1, 4])
        XCTAssertEqual(setup.labelsPerSample, 4)
        XCTAssertEqual(setup.labelCapacity, 10 * 4)
        XCTAssertEqual(setup.stepsPerEpoch, (108 - 4) / 4 / 4)
        XCTAssertEqual(try XCTUnwrap(setup.bitsPerCharacter(3 * log(2))), 3, accuracy: 1e-12)
        XCTAssertEqual(setup.unigramBitsPerChar, data.unigramBitsPerCharacter)
        XCTAssertNotNil(setup.unigramBitsPerChar)
        let summary = setup.summary(history: [], steps: 0, localSteps: 1, totalTime: TimeBreakdown(), syncs: 0, bytes: 0,
                                    modelledSeconds: nil, parameters: 0)
        XCTAssertEqual(summary.unigramBitsPerChar, setup.unigramBitsPerChar)
        XCTAssertEqual(TextVocabulary(data.train), TextVocabulary(tokens: Array("abcde".utf8), contextLength: 4))
    }

    func testAnImageModelOnTextIsASentenceNamingBoth() throws {
        for model in [ModelKind.mlp, .logreg, .cnn] {
            var config = textConfig()
            config.model.kind = model
            XCTAssertThrowsError(try Trainer(config: config, data: textData(), communicator: InProcessCommunicatorFactory.make(1))) {
                XCTAssert($0 is TrainingError, "\($0)")
                for fragment in ["model \(model.rawValue)", "text dataset", "4 labels per sample"] where model != .cnn {
                    XCTAssert("\($0)".contains(fragment), "\"\($0)\" lacks \"\(fragment)\"")
                }
                XCTAssert("\($0)".contains("model \(model.rawValue)") && "\($0)".contains("text"), "\($0)")
            }
        }
    }

    func testImageRunsKeepOneLabelPerSampleAndWriteNoTextFields() throws {
        let setup = try RunSetup(config: tinyConfig(), data: try tinyData(), workers: 1)
        XCTAssertEqual(setup.labelsPerSample, 1)
        XCTAssertEqual(setup.labelCapacity, max(4, 256))
        XCTAssertNil(setup.bitsPerCharacter(1))
        XCTAssertNil(setup.unigramBitsPerChar)
        XCTAssertNil(TextVocabulary(setup.data.train))
        let metrics = EpochMetrics(epoch: 1, steps: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5,
                                   lr: 0.1, seconds: 1, syncs: 0, bytesCommunicated: 0, time: TimeBreakdown(), modelledSeconds: nil)
        let summary = setup.summary(history: [metrics], steps: 1, localSteps: 1, totalTime: TimeBreakdown(), syncs: 0,
                                    bytes: 0, modelledSeconds: nil, parameters: 1)
        for json in [try JSONEncoder().encode(metrics), try JSONEncoder().encode(summary)] {
            XCTAssertFalse(String(decoding: json, as: UTF8.self).contains("bits_per_char"))
        }
        var text = metrics
        text.testBitsPerChar = 1.5
        XCTAssertTrue(String(decoding: try JSONEncoder().encode(text), as: UTF8.self).contains("\"test_bits_per_char\":1.5"))
    }
}
