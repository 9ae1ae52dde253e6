import Algorithms
import Comm
import Config
import Foundation
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// Whole trainings with `--compress`: bitwise resume with error feedback (residuals and anchors
/// are checkpointed), the same numbers on any thread count, and a codec error every reduction.
final class CompressionTrainingTests: XCTestCase {
    struct Crash: Error {}

    func config(_ kind: AlgorithmKind, _ codec: PayloadCodecKind, threads: Int = 1, _ edit: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        tinyConfig {
            $0.algorithm.workers = 3; $0.schedule.batchSize = 4; $0.algorithm.kind = kind; $0.algorithm.localSteps = 2
            $0.schedule.epochs = 3; $0.schedule.lr = 0.1; $0.schedule.scaleLr = false
            $0.algorithm.compress = codec; $0.algorithm.errorFeedback = true; $0.algorithm.compressRatio = codec == .topk ? 0.1 : 0.01
            $0.execution.checkpointEvery = "4"; $0.execution.threads = threads
            if kind == .postLocal { $0.algorithm.switchStep = 5 }
            edit(&$0)
        }
    }

    static let cases: [(AlgorithmKind, PayloadCodecKind)] = [(.local, .int8), (.minibatch, .topk), (.postLocal, .fp16), (.diloco, .bf16)]

    func testResumeWithErrorFeedbackIsBitwise() throws {
        let data = try tinyData(train: 72, test: 24)
        for (kind, codec) in Self.cases {
            let reference = try train(config(kind, codec), data: data)
            for crashAfter in [6, 13] {
                let dir = try makeTemporaryDirectory(self)
                let policy = try XCTUnwrap(CheckpointPolicy(config: config(kind, codec), directory: dir, stepsPerEpoch: 6))
                XCTAssertThrowsError(try train(config(kind, codec), data: data) { t in
                    if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
                    if t.globalStep == crashAfter { throw Crash() }
                })
                let resumed = try Trainer(config: config(kind, codec), data: data, communicator: InProcessCommunicatorFactory.make(3))
                try Checkpoint.restoreLatest(into: resumed, directory: dir)
                XCTAssertEqual(resumed.globalStep, crashAfter / 4 * 4)
                _ = try resumed.run()
                for k in 0..<3 {
                    XCTAssertEqual(resumed.replicas[k].parameters.array, reference.replicas[k].parameters.array,
                                   "\(kind) \(codec), crash at \(crashAfter)")
                }
            }
        }
    }

    /// Without the residuals in the checkpoint the resumed run would differ: the control.
    func testTheResidualsMatter() throws {
        let data = try tinyData(train: 72, test: 24)
        let withFeedback = try train(config(.local, .int8), data: data)
        let without = try train(config(.local, .int8) { $0.algorithm.errorFeedback = false }, data: data)
        XCTAssertNotEqual(withFeedback.replicas[0].parameters.array, without.replicas[0].parameters.array)
        let plain = try train(config(.local, .none) { $0.algorithm.errorFeedback = false }, data: data)
        XCTAssertNotEqual(without.replicas[0].parameters.array, plain.replicas[0].parameters.array)
        XCTAssertNil(plain.compressor)
    }

    func testSameNumbersOnAnyThreadCountAndACodecErrorPerReduction() throws {
        let data = try tinyData(train: 72, test: 24)
        for (kind, codec) in Self.cases {
            let one = try train(config(kind, codec, threads: 1), data: data)
            let two = try train(config(kind, codec, threads: 2), data: data)
            XCTAssertEqual(one.replicas[1].parameters.array, two.replicas[1].parameters.array, "\(kind) \(codec)")
            let error = try XCTUnwrap(one.compressor?.lastRelativeError, "\(kind) \(codec)")
            XCTAssertGreaterThan(error, 0)
            XCTAssertLessThan(error, 1, "\(kind) \(codec): the decoded mean is near the exact one")
        }
    }
}
