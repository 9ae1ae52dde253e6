import XCTest
@testable import Tensor

final class WorkerPoolTests: XCTestCase {
    /// Every item runs once, on lane item % lanes, for many back-to-back calls (jobs must not be
    /// lost or run twice across generations), with fewer items than lanes too.
    func testEveryItemRunsOnceOnItsLane() {
        for lanes in [1, 2, 3] {
            let pool = WorkerPool(threads: lanes)
            for round in 0..<500 {
                let count = round % 7
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0, count: max(count, 1))
                pool.run(count) { item, lane in
                    XCTAssertEqual(lane, item % min(lanes, count))
                    hits[item] += 1
                }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: count)),
                               [Int](repeating: 1, count: count), "lanes \(lanes) round \(round)")
                hits.deallocate()
            }
        }
    }

    /// A pool's threads stop when it goes away (deinit waits for them).
    func testPoolsComeAndGo() {
        for _ in 0..<50 {
            let pool = WorkerPool(threads: 2)
            var sum = 0
            let lock = NSLock()
            pool.run(4) { item, _ in lock.lock(); sum += item; lock.unlock() }
            XCTAssertEqual(sum, 6)
        }
    }
}
