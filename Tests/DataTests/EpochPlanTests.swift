import Data
import Tensor
import XCTest

final class EpochPlanTests: XCTestCase {
    private func allIndices(_ plan: EpochPlan) -> [Int] {
        (0..<plan.workers).flatMap { k in (0..<plan.stepsPerEpoch).flatMap { plan.indices(worker: k, step: $0) } }
    }

    func testEachSampleAtMostOnceAndExactlyKSBDistinct() throws {
        // 103 samples, K = 4: shards of 25, batch 6 → 4 steps, 4·4·6 = 96 samples read.
        let plan = try EpochPlan(sampleCount: 103, workers: 4, batchSize: 6, epoch: 2, seed: 7, shuffle: true)
        XCTAssertEqual(plan.stepsPerEpoch, 4)
        let read = allIndices(plan)
        XCTAssertEqual(read.count, 96)
        XCTAssertEqual(Set(read).count, 96, "a sample was read twice")
        XCTAssert(read.allSatisfy { (0..<103).contains($0) })
    }

    func testEverySampleExactlyOnceWhenDivisible() throws {
        let plan = try EpochPlan(sampleCount: 96, workers: 4, batchSize: 8, epoch: 0, seed: 1, shuffle: true)
        XCTAssertEqual(plan.stepsPerEpoch, 3)
        XCTAssertEqual(allIndices(plan).sorted(), Array(0..<96))
    }

    func testSameSeedAndEpochGiveSamePlanOtherEpochsDiffer() throws {
        let a = try EpochPlan(sampleCount: 64, workers: 2, batchSize: 4, epoch: 3, seed: 5, shuffle: true)
        let b = try EpochPlan(sampleCount: 64, workers: 2, batchSize: 4, epoch: 3, seed: 5, shuffle: true)
        let c = try EpochPlan(sampleCount: 64, workers: 2, batchSize: 4, epoch: 4, seed: 5, shuffle: true)
        let d = try EpochPlan(sampleCount: 64, workers: 2, batchSize: 4, epoch: 3, seed: 6, shuffle: true)
        XCTAssertEqual(allIndices(a), allIndices(b))
        XCTAssertNotEqual(allIndices(a), allIndices(c))
        XCTAssertNotEqual(allIndices(a), allIndices(d))
        XCTAssertNotEqual(allIndices(a), Array(0..<64), "shuffle: true must not give file order")
    }

    /// The permutation is exactly the documented stream, so other code can rely on it.
    func testShuffleUsesTheDocumentedStream() throws {
        let plan = try EpochPlan(sampleCount: 50, workers: 1, batchSize: 50, epoch: 9, seed: 123, shuffle: true)
        var rng = RandomGenerator(seed: 123, stream: [Stream.shuffle, 9])
        XCTAssertEqual(Array(plan.indices(worker: 0, step: 0)), rng.permutation(50))
    }

    func testWithoutShuffleWorkerKTakesTheKthContiguousBlock() throws {
        let plan = try EpochPlan(sampleCount: 23, workers: 3, batchSize: 3, epoch: 5, seed: 1, shuffle: false)
        XCTAssertEqual(plan.shardSize, 7)
        XCTAssertEqual(plan.stepsPerEpoch, 2)
        XCTAssertEqual(Array(plan.indices(worker: 0, step: 0)), [0, 1, 2])
        XCTAssertEqual(Array(plan.indices(worker: 0, step: 1)), [3, 4, 5])
        XCTAssertEqual(Array(plan.indices(worker: 1, step: 0)), [7, 8, 9])
        XCTAssertEqual(Array(plan.indices(worker: 2, step: 1)), [17, 18, 19])
    }

    func testTooSmallDatasetIsAnError() {
        assertThrowsDataError(["dataset of 15 samples is too small for 4 workers × batch 4"]) {
            try EpochPlan(sampleCount: 15, workers: 4, batchSize: 4, epoch: 0, seed: 0, shuffle: true)
        }
        assertThrowsDataError(["batch size", "0"]) {
            try EpochPlan(sampleCount: 15, workers: 1, batchSize: 0, epoch: 0, seed: 0, shuffle: true)
        }
    }
}
