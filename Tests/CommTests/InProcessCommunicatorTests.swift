import Comm
import Dispatch
import Tensor
import TestSupport
import XCTest

/// The in-process backend promises a fixed reduction order, so most checks here are bitwise
/// (tolerance 0) against a naive reference that adds in the same order.
final class InProcessCommunicatorTests: XCTestCase {
    /// Worker g·G first, added left to right in Float; the mean divides by Float(G).
    private func reference(_ values: [[Float]], groupSize: Int, mean: Bool) -> [[Float]] {
        var result = values
        for first in stride(from: 0, to: values.count, by: groupSize) {
            for i in 0..<values[first].count {
                var s = values[first][i]
                for w in (first + 1)..<(first + groupSize) { s += values[w][i] }
                if mean { s = s / Float(groupSize) }
                for w in first..<(first + groupSize) { result[w][i] = s }
            }
        }
        return result
    }

    private func assertBitwiseEqual(_ a: [[Float]], _ b: [[Float]], _ message: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for (w, (x, y)) in zip(a, b).enumerated() {
            let bitsX = x.map(\.bitPattern), bitsY = y.map(\.bitPattern)
            if bitsX != bitsY {
                let i = bitsX.indices.first { bitsX[$0] != bitsY[$0] } ?? -1
                let detail = i >= 0 ? "\(x[i]) vs \(y[i])" : "counts \(x.count) vs \(y.count)"
                XCTFail("worker \(w) differs at [\(i)]: \(detail) \(message)", file: file, line: line)
                return
            }
        }
    }

    func testHandComputedMeanAndSum() throws {
        let data = WorkerBuffers(workers: 3, count: 2) { w, i in [[1, 2], [4, 8], [7, -1]][w][i] }
        let comm = InProcessCommunicator(workers: 3, threads: 1)
        try comm.allReduceSum(data.pointers, count: 2)
        XCTAssertEqual(data.arrays, [[12, 9], [12, 9], [12, 9]])
        try comm.allReduceMean(data.pointers, count: 2)
        XCTAssertEqual(data.arrays, [[12, 9], [12, 9], [12, 9]])  // the mean of equal buffers
        let fresh = WorkerBuffers(workers: 3, count: 2) { w, i in [[1, 2], [4, 8], [7, -1]][w][i] }
        try comm.allReduceMean(fresh.pointers, count: 2)
        XCTAssertEqual(fresh.arrays, [[4, 3], [4, 3], [4, 3]])
    }

    func testMeanAndSumMatchNaiveReferenceForEveryGroupSize() throws {
        // 20 001 floats: more than two cache blocks, not a multiple of one.
        let count = 20_001
        for workers in [1, 3, 8] {
            for groupSize in Set([1, 2, workers]) where workers % groupSize == 0 {
                for mean in [true, false] {
                    let data = WorkerBuffers(workers: workers, count: count, seed: UInt64(workers * 10 + groupSize))
                    let expected = reference(data.arrays, groupSize: groupSize, mean: mean)
                    let comm = InProcessCommunicator(workers: workers, threads: 2)
                    if mean {
                        try comm.allReduceMean(data.pointers, count: count, groupSize: groupSize)
                    } else {
                        try comm.allReduceSum(data.pointers, count: count, groupSize: groupSize)
                    }
                    assertBitwiseEqual(data.arrays, expected, "K=\(workers) G=\(groupSize) mean=\(mean)")
                }
            }
        }
    }

    func testResultsAreBitwiseIdenticalForAnyThreadCount() throws {
        // 100 003 floats: split into 2 or 3 uneven chunks of 8192-float blocks plus a ragged tail.
        let count = 100_003
        for (workers, groupSize) in [(3, 3), (4, 2)] {
            let original = WorkerBuffers(workers: workers, count: count, seed: 7)
            let expected = reference(original.arrays, groupSize: groupSize, mean: true)
            for threads in [1, 2, 3] {
                let data = original.copy()
                let comm = InProcessCommunicator(workers: workers, threads: threads)
                try comm.allReduceMean(data.pointers, count: count, groupSize: groupSize)
                assertBitwiseEqual(data.arrays, expected, "K=\(workers) G=\(groupSize) threads=\(threads)")
            }
        }
    }

    func testGroupsDoNotLeakIntoEachOther() throws {
        // Groups {0, 1} and {2, 3} hold values of very different size; any leak shows.
        let data = WorkerBuffers(workers: 4, count: 50_000) { w, i in [1, 3, 100, 300][w] + Float(i % 7) }
        let comm = InProcessCommunicator(workers: 4, threads: 2)
        try comm.allReduceMean(data.pointers, count: 50_000, groupSize: 2)
        let arrays = data.arrays
        for i in 0..<50_000 {
            let extra = Float(i % 7)
            guard arrays[0][i] == 2 + extra, arrays[1][i] == 2 + extra,
                  arrays[2][i] == 200 + extra, arrays[3][i] == 200 + extra else {
                return XCTFail("group leak at [\(i)]: \(arrays.map { $0[i] })")
            }
        }
    }

    func testCountZeroAndSingleWorkerAreNoOps() throws {
        let data = WorkerBuffers(workers: 1, count: 10, seed: 1)
        let before = data.arrays
        let comm = InProcessCommunicator(workers: 1, threads: 2)
        try comm.allReduceMean(data.pointers, count: 10)
        try comm.allReduceSum(data.pointers, count: 10)
        assertBitwiseEqual(data.arrays, before, "K=1")
        let pair = WorkerBuffers(workers: 2, count: 3) { w, _ in Float(w) }
        try InProcessCommunicator(workers: 2, threads: 1).allReduceMean(pair.pointers, count: 0)
        XCTAssertEqual(pair.arrays, [[0, 0, 0], [1, 1, 1]])
    }

    func testBroadcastCopiesTheRootIntoEveryWorker() throws {
        let count = 40_000
        let data = WorkerBuffers(workers: 3, count: count, seed: 3)
        let root = data.arrays[1]
        let comm = InProcessCommunicator(workers: 3, threads: 2)
        try comm.broadcast(data.pointers, count: count, root: 1)
        assertBitwiseEqual(data.arrays, [root, root, root], "broadcast from 1")
        XCTAssertThrowsError(try comm.broadcast(data.pointers, count: count, root: 3)) { error in
            XCTAssertTrue("\(error)".contains("root 3 is not a worker"), "\(error)")
        }
    }

    func testNonBlockingAllReduceCompletesWhileCallerWorks() throws {
        let count = 200_000
        let original = WorkerBuffers(workers: 4, count: count, seed: 11)
        let blocking = original.copy()
        let comm = InProcessCommunicator(workers: 4, threads: 1)
        try comm.allReduceMean(blocking.pointers, count: count)

        let async = original.copy()
        let request = try comm.startAllReduceMean(async.pointers, count: count)
        // The caller computes (on its own memory) and polls; the reduction must finish without wait().
        var g = RandomGenerator(seed: 5)
        var work: Float = 0, polls = 0
        let deadline = DispatchTime.now().uptimeNanoseconds + 20_000_000_000
        var done = try request.test()
        while !done && DispatchTime.now().uptimeNanoseconds < deadline {
            for _ in 0..<1000 { work += g.nextFloat() }
            polls += 1
            done = try request.test()
        }
        XCTAssertTrue(done, "the request did not complete within 20 s of polling")
        XCTAssertTrue(work.isFinite)
        try request.wait()  // returns at once once complete
        XCTAssertTrue(try request.test())
        assertBitwiseEqual(async.arrays, blocking.arrays, "non-blocking vs blocking after \(polls) polls")
    }

    func testCountersCountRoundsAndPayloadBytesPerWorker() throws {
        let data = WorkerBuffers(workers: 4, count: 100, seed: 2)
        let comm = InProcessCommunicator(workers: 4, threads: 2)
        XCTAssertEqual(comm.counters, CommCounters())
        try comm.allReduceMean(data.pointers, count: 100, groupSize: 2)
        try comm.allReduceSum(data.pointers, count: 100)
        try comm.broadcast(data.pointers, count: 50, root: 0)
        try comm.barrier()
        try comm.startAllReduceMean(data.pointers, count: 25).wait()
        XCTAssertEqual(comm.counters, CommCounters(rounds: 4, bytes: 4 * (100 + 100 + 50 + 25)))
        XCTAssertThrowsError(try comm.allReduceMean(data.pointers, count: 100, groupSize: 3))
        XCTAssertEqual(comm.counters.rounds, 4, "a rejected call counts nothing")
    }

    func testCountersAreExactUnderConcurrentCalls() {
        let comm = InProcessCommunicator(workers: 2, threads: 1)
        let sets = (0..<16).map { WorkerBuffers(workers: 2, count: 64, seed: UInt64($0)) }
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            for _ in 0..<50 { try? comm.allReduceMean(sets[i].pointers, count: 64) }
        }
        XCTAssertEqual(comm.counters, CommCounters(rounds: 800, bytes: 800 * 256))
    }

    func testInvalidArgumentsThrowASentence() {
        let data = WorkerBuffers(workers: 4, count: 8, seed: 4)
        let comm = InProcessCommunicator(workers: 4, threads: 1)
        let cases: [(String, () throws -> Void)] = [
            ("group size 3 does not divide the 4 workers", { try comm.allReduceMean(data.pointers, count: 8, groupSize: 3) }),
            ("group size 0 does not divide", { try comm.allReduceSum(data.pointers, count: 8, groupSize: 0) }),
            ("group size 8 does not divide", { try comm.allReduceMean(data.pointers, count: 8, groupSize: 8) }),
            ("got 3 buffers but the communicator has 4 workers", { try comm.allReduceMean(Array(data.pointers.prefix(3)), count: 8) }),
            ("count -1 is negative", { try comm.allReduceMean(data.pointers, count: -1) }),
            ("startAllReduceMean: got 5 buffers", { _ = try comm.startAllReduceMean(data.pointers + [data.pointers[0]], count: 8) }),
        ]
        for (expected, call) in cases {
            XCTAssertThrowsError(try call(), expected) { error in
                XCTAssertTrue(error is CommError, "\(type(of: error))")
                XCTAssertTrue("\(error)".contains(expected), "message \"\(error)\" lacks \"\(expected)\"")
                XCTAssertTrue("\(error)".hasSuffix("."), "not a sentence: \(error)")
            }
        }
    }
}

final class DelayedCommunicatorTests: XCTestCase {
    func testEveryCollectiveWaitsAndStillComputesTheSameResult() throws {
        let plain = WorkerBuffers(workers: 2, count: 100, seed: 3), delayed = WorkerBuffers(workers: 2, count: 100, seed: 3)
        try InProcessCommunicator(workers: 2, threads: 1).allReduceMean(plain.pointers, count: 100)
        let comm = DelayedCommunicator(InProcessCommunicator(workers: 2, threads: 1), latency: 0.05)
        let start = Date()
        try comm.allReduceMean(delayed.pointers, count: 100)
        try comm.barrier()
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.1)
        XCTAssertEqual(delayed.buffers.map(\.array), plain.buffers.map(\.array))
        XCTAssertEqual(comm.counters.rounds, 1)
    }
}
