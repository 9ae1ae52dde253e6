import Comm
import Foundation
import XCTest

/// Modelled seconds are compared with hand-computed values to a relative 1e-12 (Double
/// rounding only); parsed values and round trips must be exact.
final class NetworkModelTests: XCTestCase {
    private func assertSeconds(_ actual: Double, _ expected: Double, _ message: String = "",
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual, expected, accuracy: 1e-12 * max(abs(expected), 1e-300), message, file: file, line: line)
    }

    /// 1 Gbit/s and 100 µs between nodes of 8 workers joined by 100 Gbit/s and 2 µs.
    private let twoLevel = NetworkModel(
        interNode: .init(latency: 100e-6, bandwidth: 1.25e8),
        nodes: .init(workersPerNode: 8, intraNode: .init(latency: 2e-6, bandwidth: 1.25e10)))

    func testFlatRingAllReduceMatchesHandComputedSeconds() {
        let model = NetworkModel(latency: 50e-6, bandwidth: 10e9 / 8)  // 10 Gbit/s, 50 µs
        // 100 MB among 8: 2·7/8 · 1e8 B / 1.25e9 B/s + 14 · 50 µs = 0.14 + 0.0007 s.
        assertSeconds(model.allReduceSeconds(bytes: 100_000_000, workers: 8, groupSize: 8), 0.1407)
        // Groups of 2: 2·1/2 · 1e8 / 1.25e9 + 2 · 50 µs = 0.08 + 0.0001 s.
        assertSeconds(model.allReduceSeconds(bytes: 100_000_000, workers: 8, groupSize: 2), 0.0801)
        XCTAssertEqual(model.allReduceSeconds(bytes: 100_000_000, workers: 8, groupSize: 1), 0)
        XCTAssertEqual(model.allReduceSeconds(bytes: 100_000_000, workers: 1, groupSize: 1), 0)
        XCTAssertEqual(model.workersPerNode, 1)
    }

    func testTwoLevelModelPicksTheLevelsAGroupSpans() {
        let n = 100_000_000
        // Whole world of 2 nodes: ring(8, n, intra) + ring(2, n/8, inter)
        // = (2·7/8·1e8/1.25e10 + 14·2e-6) + (1.25e7/1.25e8 + 2·1e-4) = 0.014028 + 0.1002.
        assertSeconds(twoLevel.allReduceSeconds(bytes: n, workers: 16, groupSize: 16), 0.114228)
        assertSeconds(twoLevel.allReduceSeconds(bytes: n, workers: 32, groupSize: 16), 0.114228)
        // Groups inside a node: ring(G, n, intra).
        assertSeconds(twoLevel.allReduceSeconds(bytes: n, workers: 16, groupSize: 8), 0.014028)
        assertSeconds(twoLevel.allReduceSeconds(bytes: n, workers: 16, groupSize: 4), 0.012012)
        assertSeconds(twoLevel.allReduceSeconds(bytes: n, workers: 16, groupSize: 2), 0.008004)
        // Fewer workers than a node holds: all on node 0, so intra even for G = 6.
        assertSeconds(twoLevel.allReduceSeconds(bytes: n, workers: 6, groupSize: 6), 2.0 * 5 / 6 * 1e8 / 1.25e10 + 10 * 2e-6)
        // Groups {0…5}, {6…11} with nodes {0…7}, {8…11}: the second straddles, so a flat inter ring.
        assertSeconds(twoLevel.allReduceSeconds(bytes: n, workers: 12, groupSize: 6), 2.0 * 5 / 6 * 1e8 / 1.25e8 + 10 * 1e-4)
        XCTAssertEqual(twoLevel.allReduceSeconds(bytes: n, workers: 16, groupSize: 1), 0)
    }

    func testOneWorkerPerNodeIsTheFlatModel() {
        let flat = NetworkModel(latency: 1e-4, bandwidth: 1.25e8)
        let nodesOfOne = NetworkModel(interNode: flat.interNode,
                                      nodes: .init(workersPerNode: 1, intraNode: .init(latency: 0, bandwidth: 1e12)))
        for g in [2, 4, 8] {
            XCTAssertEqual(nodesOfOne.allReduceSeconds(bytes: 12_345, workers: 8, groupSize: g),
                           flat.allReduceSeconds(bytes: 12_345, workers: 8, groupSize: g))
        }
    }

    func testOverheadAndEfficiencyMatchHandComputedSeconds() throws {
        let model = try NetworkModel(parsing: "1gbit:100us,overhead=2ms,efficiency=0.8")
        XCTAssertEqual(model.overhead, 2e-3)
        XCTAssertEqual(model.efficiency, 0.8)
        // cnn's 1 686 568 bytes between 2: 2 ms + 1 · 1686568 / (0.8 · 1.25e8) + 2 · 100 µs
        // = 0.002 + 0.01686568 + 0.0002 = 0.01906568 s.
        assertSeconds(model.allReduceSeconds(bytes: 1_686_568, workers: 2, groupSize: 2), 0.01906568)
        // 4 workers: 2 ms + 1.5 · 1686568 / 1e8 + 6 · 100 µs = 0.002 + 0.02529852 + 0.0006.
        assertSeconds(model.allReduceSeconds(bytes: 1_686_568, workers: 4, groupSize: 4), 0.02789852)
        XCTAssertEqual(model.allReduceSeconds(bytes: 1_686_568, workers: 4, groupSize: 1), 0, "no collective, no overhead")
        XCTAssertEqual(model.allReduceSeconds(bytes: 0, workers: 4, groupSize: 4), 0, "an empty buffer sends nothing")
        // Two levels: the overhead once, both rings at half their rate.
        let twoLevelSlow = NetworkModel(interNode: twoLevel.interNode, nodes: twoLevel.nodes, overhead: 1e-3, efficiency: 0.5)
        // 1e-3 + (2·7/8·1e8/6.25e9 + 14·2e-6) + (1.25e7/6.25e7 + 2·1e-4) = 0.001 + 0.028028 + 0.2002.
        assertSeconds(twoLevelSlow.allReduceSeconds(bytes: 100_000_000, workers: 16, groupSize: 16), 0.229228)
    }

    func testAModelWithoutTheNewTermsGivesExactlyTheOldNumbers() throws {
        let plain = try NetworkModel(parsing: "1gbit:100us")
        XCTAssertEqual(plain.overhead, 0)
        XCTAssertEqual(plain.efficiency, 1)
        XCTAssertEqual(try NetworkModel(parsing: "1gbit:100us,overhead=0s,efficiency=1"), plain)
        for bytes in [4, 4096, 1_686_568, 102_760_448] {
            for (workers, group) in [(2, 2), (4, 4), (8, 2), (16, 8)] {
                // Bitwise the plain ring of before: 2(P−1)/P · n/β + 2(P−1)·α.
                XCTAssertEqual(plain.allReduceSeconds(bytes: bytes, workers: workers, groupSize: group),
                               plain.interNode.ringAllReduceSeconds(bytes: Double(bytes), participants: group))
            }
            let intra = twoLevel.nodes!.intraNode, inter = twoLevel.interNode, n = Double(bytes)
            XCTAssertEqual(twoLevel.allReduceSeconds(bytes: bytes, workers: 16, groupSize: 16),
                           intra.ringAllReduceSeconds(bytes: n, participants: 8) + inter.ringAllReduceSeconds(bytes: n / 8, participants: 2))
            XCTAssertEqual(twoLevel.allReduceSeconds(bytes: bytes, workers: 16, groupSize: 4),
                           intra.ringAllReduceSeconds(bytes: n, participants: 4))
        }
    }

    func testWaitForTheSlowestIsTheGapToTheLastArrival() {
        XCTAssertEqual(NetworkModel.waitForSlowest(secondsSinceLastSync: [0.030, 0.045, 0.020], process: 0), 0.045 - 0.030)
        XCTAssertEqual(NetworkModel.waitForSlowest(secondsSinceLastSync: [0.030, 0.045, 0.020], process: 1), 0)
        XCTAssertEqual(NetworkModel.waitForSlowest(secondsSinceLastSync: [0.030, 0.045, 0.020], process: 2), 0.045 - 0.020)
        XCTAssertEqual(NetworkModel.waitForSlowest(secondsSinceLastSync: [0.5], process: 0), 0)
    }

    func testOverheadAndEfficiencyRoundTripThroughTheString() throws {
        let calibrated = try NetworkModel(parsing: "1gbit:100us, efficiency=0.8 ,overhead=2ms")
        XCTAssertEqual(calibrated.description, "1gbit:100us,overhead=2ms,efficiency=0.8")
        XCTAssertEqual(try NetworkModel(parsing: "100mbit,overhead=1.5e-3s").description, "0.1gbit,overhead=1.5ms")
        let models = [
            calibrated,
            NetworkModel(interNode: .init(latency: 0, bandwidth: 1.25e8), overhead: 1.0 / 3 * 1e-3, efficiency: 0.7123456789),
            NetworkModel(interNode: twoLevel.interNode, nodes: twoLevel.nodes, overhead: 3.7e-7, efficiency: 1.0 / 3),
        ]
        for model in models {
            XCTAssertEqual(try NetworkModel(parsing: model.description), model, model.description)
            let data = try JSONEncoder().encode([model])
            XCTAssertEqual(try JSONDecoder().decode([NetworkModel].self, from: data), [model])
        }
    }

    func testParsesUnitsPresetsAndTwoLevels() throws {
        let cases: [(String, Double, Double)] = [  // text, bytes/s, seconds
            ("10gbit:50us", 1.25e9, 50e-6),
            ("25gbps", 25e9 / 8, 0),
            ("25GB/s:1ms", 25e9, 1e-3),
            ("100Mbit:2.5ms", 12.5e6, 2.5e-3),
            ("1Gb/s:100µs", 1.25e8, 100e-6),
            ("800MB/s:3s", 8e8, 3),
            ("10GBIT:50US", 1.25e9, 50e-6),
            ("2.5e3kbit/s:750ns", 2.5e6 / 8, 750e-9),
            ("ethernet-10g", 1.25e9, 50e-6),
            ("InfiniBand-100G", 1.25e10, 2e-6),
        ]
        for (text, bandwidth, latency) in cases {
            let model = try NetworkModel(parsing: text)
            XCTAssertEqual(model.interNode, NetworkModel.Link(latency: latency, bandwidth: bandwidth), text)
            XCTAssertNil(model.nodes, text)
        }
        let parsed = try NetworkModel(parsing: "1gbit:100us, nodes-of=8, intra=100gbit:2us")
        XCTAssertEqual(parsed, twoLevel)
        XCTAssertEqual(try NetworkModel(parsing: "1gbit:100us,intra=100gbit:2us,nodes-of=8"), twoLevel)
        XCTAssertEqual(try NetworkModel(parsing: "ethernet-1g,nodes-of=4,intra=nvlink").nodes?.intraNode,
                       NetworkModel.Link(latency: 5e-6, bandwidth: 300e9))
    }

    func testDescriptionIsCanonicalAndRoundTripsExactly() throws {
        XCTAssertEqual(try NetworkModel(parsing: "ethernet-10g").description, "10gbit:50us")
        XCTAssertEqual(try NetworkModel(parsing: "25gbps").description, "25gbit")
        XCTAssertEqual(twoLevel.description, "1gbit:100us,nodes-of=8,intra=100gbit:2us")
        XCTAssertEqual(try NetworkModel(parsing: "1gbit:0.1ms,nodes-of=2,intra=nvlink").description,
                       "1gbit:100us,nodes-of=2,intra=300GB/s:5us")
        let awkward = [
            NetworkModel(latency: 3.7e-7, bandwidth: 123_456_789.123),
            NetworkModel(latency: 1.0 / 3, bandwidth: 1e9 / 3),
            NetworkModel(latency: 0, bandwidth: 0.5),
            NetworkModel(interNode: .init(latency: 1e-5, bandwidth: 7e11),
                         nodes: .init(workersPerNode: 3, intraNode: .init(latency: 9.99e-8, bandwidth: 1.1e13))),
        ]
        for model in awkward + NetworkModel.presets.map({ NetworkModel(interNode: $0.link) }) {
            XCTAssertEqual(try NetworkModel(parsing: model.description), model, model.description)
            XCTAssertEqual(NetworkModel(model.description), model)
        }
    }

    func testCodableUsesTheStringForm() throws {
        let data = try JSONEncoder().encode(["network": twoLevel])
        XCTAssertEqual(String(decoding: data, as: UTF8.self),
                       #"{"network":"1gbit:100us,nodes-of=8,intra=100gbit:2us"}"#)
        XCTAssertEqual(try JSONDecoder().decode([String: NetworkModel].self, from: data), ["network": twoLevel])
        XCTAssertThrowsError(try JSONDecoder().decode([NetworkModel].self, from: Data(#"["10gbit:50"]"#.utf8))) { error in
            XCTAssertTrue("\(error)".contains("latency \\\"50\\\" is not a number with a unit") ||
                          "\(error)".contains("latency \"50\" is not a number with a unit"), "\(error)")
        }
    }

    func testParseErrorsNameWhatIsWrong() {
        let cases: [(String, String)] = [
            ("", "expected BANDWIDTH[:LATENCY]"),
            ("10gbit:50", "latency \"50\" is not a number with a unit"),
            ("10gbit:fast", "latency \"fast\""),
            ("10gbyte/x", "has unit \"gbyte/x\""),
            ("10xbit", "has unit \"xbit\""),
            ("10", "has unit \"\""),
            ("fast", "\"fast\" is neither a bandwidth"),
            ("0gbit", "must be positive"),
            ("-1gbit", "must be positive"),
            ("10gbit:-5us", "must be non-negative"),
            ("10gbit:1us:2us", "more than one ':'"),
            ("10gbit,nodes-of=8", "nodes-of needs intra=LINK"),
            ("10gbit,intra=nvlink", "intra needs nodes-of=W"),
            ("10gbit,nodes-of=0,intra=nvlink", "nodes-of=0 is not a positive whole number"),
            ("10gbit,nodes-of=2,nodes-of=4,intra=nvlink", "nodes-of is given twice"),
            ("10gbit,workers=8", "unknown option \"workers=8\""),
            ("10gbit,efficiency=0", "efficiency=0 is not a fraction of the link rate in (0, 1]"),
            ("10gbit,efficiency=1.5", "efficiency=1.5 is not a fraction"),
            ("10gbit,efficiency=-0.2", "efficiency=-0.2 is not a fraction"),
            ("10gbit,efficiency=80%", "efficiency=80% is not a fraction"),
            ("10gbit,efficiency=nan", "efficiency=nan is not a fraction"),
            ("10gbit,efficiency=0.8,efficiency=0.9", "efficiency is given twice"),
            ("10gbit,overhead=2", "overhead \"2\" is not a number with a unit"),
            ("10gbit,overhead=-1ms", "overhead \"-1ms\" must be non-negative"),
            ("10gbit,overhead=1ms,overhead=2ms", "overhead is given twice"),
            ("10gbit,overhead", "unknown option \"overhead\""),
            ("10gbit,", "unknown option \"\""),
            ("10gbit,nodes-of=8,intra=10gbit:2", "latency \"2\""),
            ("10gbit:0.0.1", "latency \"0.0.1\""),
        ]
        // Zero is zero in any unit, so a bare 0 needs none.
        XCTAssertEqual(try NetworkModel(parsing: "10gbit:0,overhead=0"), try NetworkModel(parsing: "10gbit"))
        for (text, expected) in cases {
            XCTAssertThrowsError(try NetworkModel(parsing: text), text) { error in
                let message = "\(error)"
                XCTAssertTrue(error is CommError, "\(type(of: error))")
                XCTAssertTrue(message.hasPrefix("Cannot parse network \"\(text)\": "), message)
                XCTAssertTrue(message.contains(expected), "\"\(message)\" lacks \"\(expected)\"")
                XCTAssertTrue(message.hasSuffix("."), "not a sentence: \(message)")
            }
            XCTAssertNil(NetworkModel(text), text)
        }
    }

    /// Compressed exchanges: a dense codec is the all-reduce on the encoded bytes; top-k a ring
    /// all-gather, (G−1)·n/β + (G−1)·α, inside a node on its link, across nodes on the slower one.
    func testEncodedExchangesAreChargedTheirCodecsFormula() {
        let inter = NetworkModel.Link(latency: 1e-4, bandwidth: 1e8), intra = NetworkModel.Link(latency: 1e-6, bandwidth: 1e10)
        let model = NetworkModel(interNode: inter, nodes: .init(workersPerNode: 2, intraNode: intra))
        XCTAssertEqual(model.encodedExchangeSeconds(bytes: 1000, workers: 4, groupSize: 4, traffic: .reduceScatterAllGather),
                       model.allReduceSeconds(bytes: 1000, workers: 4, groupSize: 4))
        XCTAssertEqual(model.encodedExchangeSeconds(bytes: 1000, workers: 4, groupSize: 2, traffic: .allGather),
                       1000 / 1e10 + 1e-6, accuracy: 1e-18)
        XCTAssertEqual(model.encodedExchangeSeconds(bytes: 1000, workers: 4, groupSize: 4, traffic: .allGather),
                       3 * 1000 / 1e8 + 3 * 1e-4, accuracy: 1e-15)
        XCTAssertEqual(model.encodedExchangeSeconds(bytes: 1000, workers: 4, groupSize: 1, traffic: .allGather), 0)
    }
}
