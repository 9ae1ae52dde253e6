import Foundation
import TestSupport
import Training
import XCTest

/// `mpirun -np 2 localsgd train --backend mpi --algorithm async`: one node per rank, the
/// averaging loop's non-blocking all-reduces across processes, the agreement on the last round,
/// and evaluation on the second communicator. Skipped where Open MPI or the binary is missing.
///
/// Built with `--sanitize=thread`, the ranks write ThreadSanitizer's reports to files instead of
/// failing (`TSAN_OPTIONS` is read by sanitized builds only): Hogwild races on the node replicas
/// are expected, and any report on memory allocated elsewhere (snapshot and reduction buffers,
/// counters, statistics, MPI requests) fails the test as a race in the averaging path.
final class AsyncMPITests: XCTestCase {
    var localsgd: URL {
        let bundle = Bundle(for: AsyncMPITests.self).bundleURL
        let candidates = [bundle.appendingPathComponent("localsgd"),
                          bundle.deletingLastPathComponent().appendingPathComponent("localsgd")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    func testTwoRanksOfTwoThreads() throws {
        guard let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              FileManager.default.isExecutableFile(atPath: localsgd.path) else {
            throw XCTSkip("mpirun or the localsgd binary is missing")
        }
        let dir = NSTemporaryDirectory() + "localsgd-async-mpi-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let arguments = ["--oversubscribe", "-np", "2", localsgd.path, "train", "--backend", "mpi", "--algorithm", "async",
                       "--nodes", "2", "--threads-per-node", "2", "--average-every", "2", "--dataset", "synthetic",
                       "--synthetic-train", "512", "--synthetic-test", "128", "--model", "mlp", "--epochs", "3",
                       "--batch-size", "4", "--lr", "0.5", "--threads", "1", "--quiet", "--out", dir]
        defer { for f in tsanLogs(dir) { try? FileManager.default.removeItem(atPath: f) } }
        let (status, output) = try runCapturingOutput(URL(fileURLWithPath: mpirun), arguments, environment: [
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "TSAN_OPTIONS": "exitcode=0 log_path=\(dir)-tsan",
        ])
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output.components(separatedBy: "final:").count - 1, 1, "only rank 0 reports:\n\(output)")
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json")))
        let stats = try JSONDecoder().decode(AsyncStats.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/async.json")))
        XCTAssertEqual(summary.workers, 4)
        XCTAssertGreaterThan(summary.syncs, 0)
        XCTAssertEqual(stats.localNodes, 1, "one node per rank")
        XCTAssertEqual(summary.bytesCommunicated, summary.syncs * 4 * summary.parameters, "mlp: no BatchNorm statistics")
        for file in tsanLogs(dir) {
            let reports = try String(contentsOfFile: file, encoding: .utf8).components(separatedBy: "WARNING: ThreadSanitizer").dropFirst()
            for report in reports {
                let location = report.components(separatedBy: "Location is").dropFirst().first ?? ""
                XCTAssertTrue(location.contains("7ReplicaC"), "a race outside the node replicas:\n\(report.prefix(4000))")
            }
        }
        XCTAssertGreaterThan(summary.testAccuracy, 0.4, "10 classes: chance is 0.1 (in-process the same run reaches ≈ 0.65)")
    }

    /// ThreadSanitizer's report files of the ranks of a run (`log_path` plus the process id).
    func tsanLogs(_ dir: String) -> [String] {
        let folder = (dir as NSString).deletingLastPathComponent, prefix = (dir as NSString).lastPathComponent + "-tsan."
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix(prefix) }.map { folder + "/" + $0 }
    }
}
