import Algorithms
import Comm
import Tensor
import XCTest

/// The non-blocking in-place average x ← x̄ + (x − s) on hand-made buffers.
final class AsyncAveragingTests: XCTestCase {
    /// Two nodes, 3 parameters and 1 statistic each; node k holds values around k + 1.
    final class Fixture {
        let parameters = [FloatBuffer([1, 2, 3]), FloatBuffer([3, 6, 11])]
        let state = [FloatBuffer([0.5]), FloatBuffer([1.5])]
        let comm = InProcessCommunicator(workers: 2, threads: 1)
        lazy var averaging = AsyncAveraging(nodes: (0..<2).map {
            [.init(parameters[$0].pointer, count: 3), .init(state[$0].pointer, count: 1)]
        })
    }

    func testUpdatesMadeDuringTheRoundAreKept() throws {
        let f = Fixture()
        f.averaging.snapshot(node: 0)
        f.averaging.snapshot(node: 1)
        try f.averaging.start(f.comm)
        XCTAssertTrue(f.averaging.inFlight)
        // Steps taken while the all-reduce runs: node 0 moves by (0.25, −1, 0), node 1 not at all.
        f.parameters[0][0] += 0.25
        f.parameters[0][1] -= 1
        try f.averaging.wait()
        f.averaging.apply(node: 0)
        f.averaging.apply(node: 1)
        f.averaging.finishRound()
        // mean (2, 4, 7 | 1) plus each node's own change since its snapshot
        XCTAssertEqual(f.parameters[0].array, [2.25, 3, 7])
        XCTAssertEqual(f.parameters[1].array, [2, 4, 7])
        XCTAssertEqual(f.state[0].array, [1])
        XCTAssertEqual(f.state[1].array, [1])
        XCTAssertEqual(f.averaging.snapshotValues(node: 0), [1, 2, 3, 0.5])
        XCTAssertEqual(f.averaging.averageValues(), [2, 4, 7, 1])
        XCTAssertEqual([f.averaging.started, f.averaging.completed], [1, 1])
        XCTAssertEqual(f.comm.counters.bytes, 4 * 4, "one collective over weights and statistics together")
    }

    /// With no change during the round the result is the mean bit for bit, even where
    /// x̄ + (x − s) computed as x + (x̄ − s) would round differently.
    func testUnchangedNodesGetTheMeanExactly() throws {
        let a: [Float] = [0x1.f08b0ep-11, 0x1.1ff502p-5, 0.1, 7], b: [Float] = [-0x1.347df0p-11, -0x1.6a6516p-6, 0.7, 1e-7]
        let x = [FloatBuffer(a), FloatBuffer(b)]
        let comm = InProcessCommunicator(workers: 2, threads: 1)
        let averaging = AsyncAveraging(nodes: x.map { [.init($0.pointer, count: 4)] })
        for n in 0..<2 { averaging.snapshot(node: n) }
        try averaging.start(comm)
        while try !averaging.isComplete() { usleep(100) }
        for n in 0..<2 { averaging.apply(node: n) }
        let mean = zip(a, b).map { ($0 + $1) / 2 }
        XCTAssertEqual(x[0].array, mean)
        XCTAssertEqual(x[1].array, mean)
        let otherForm = zip(a, mean).map { $0 + ($1 - $0) }
        XCTAssertNotEqual(otherForm, mean, "the other form of the formula is not exact here")
    }
}
