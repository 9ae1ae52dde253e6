import Comm
import XCTest
@testable import Experiments

final class TimingTableTests: XCTestCase {
    /// ResNet-50 (25.6M parameters, float32) on 10 Gb/s with 50 µs latency, 180 ms compute.
    let table = TimingTable(parameters: 25_600_000, computeSeconds: 0.180, network: NetworkModel(latency: 50e-6, bandwidth: 10e9 / 8),
                            workers: [1, 16], localSteps: [1, 4])

    func row(_ k: Int, _ h: Int) -> TimingRow { table.rows.first { $0.workers == k && $0.localSteps == h }! }

    func testValuesMatchHandComputedRingAllReduce() {
        // Ring all-reduce of 102.4 MB among 16: 2·15/16 · 102.4e6 B / 1.25e9 B/s + 2·15 · 50 µs = 0.1536 + 0.0015 s.
        let allReduce = 0.1551
        let r = row(16, 4)
        XCTAssertEqual(r.allReduceSeconds, allReduce, accuracy: 1e-12)
        XCTAssertEqual(r.communicationSeconds, allReduce / 4, accuracy: 1e-12)
        XCTAssertEqual(r.iterationSeconds, 0.180 + 0.038775, accuracy: 1e-12)
        XCTAssertEqual(r.communicationShare, 0.038775 / 0.218775, accuracy: 1e-12)
        XCTAssertEqual(r.speedup, 16 * 0.180 / 0.218775, accuracy: 1e-9)
        XCTAssertEqual(r.normalisedSpeedup, (0.180 + allReduce) / 0.218775, accuracy: 1e-9)
        XCTAssertEqual(row(16, 1).communicationShare, allReduce / (0.180 + allReduce), accuracy: 1e-12)
        XCTAssertEqual(row(16, 1).normalisedSpeedup, 1, accuracy: 1e-12)
        // One worker never communicates.
        XCTAssertEqual(row(1, 1).allReduceSeconds, 0)
        XCTAssertEqual(row(1, 4).speedup, 1, accuracy: 1e-12)
    }

    func testCSVHasOneRowPerSettingWithTheSameNumbers() throws {
        let rows = CSV.parse(table.csv)
        XCTAssertEqual(rows[0], TimingTable.csvHeader.split(separator: ",").map(String.init))
        XCTAssertEqual(rows.count, 1 + 4)
        let line = try XCTUnwrap(rows.first { $0[0] == "16" && $0[1] == "4" })
        XCTAssertEqual(Double(line[3])!, 155.1, accuracy: 1e-9)  // allreduce_ms
        XCTAssertEqual(Double(line[6])!, row(16, 4).communicationShare, accuracy: 1e-15)
        XCTAssertTrue(table.text.contains("17.7%"), table.text)
    }

    func testSVGIsWellFormed() throws {
        try assertWellFormed(table.svg)
    }

    func testParsesParameterCounts() {
        XCTAssertEqual(TimingTable.parseCount("25.6M"), 25_600_000)
        XCTAssertEqual(TimingTable.parseCount("270k"), 270_000)
        XCTAssertEqual(TimingTable.parseCount("421642"), 421_642)
        XCTAssertEqual(TimingTable.parseCount("1.5G"), 1_500_000_000)
        XCTAssertNil(TimingTable.parseCount("ten"))
        XCTAssertNil(TimingTable.parseCount("-3M"))
    }
}
