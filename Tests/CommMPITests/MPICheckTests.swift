import Foundation
import XCTest

/// Runs `localsgd-mpi-check` (built next to this test bundle) under mpirun: its checks compare
/// MPICommunicator with InProcessCommunicator on the same data, bitwise for groups inside a
/// rank and with `--reduction ordered`, and within G·ε (mean) / (G−1)·G·ε (sum) across ranks
/// with `fast` (see CheckRunner), and its failure
/// drills show that a dead or hung rank ends the job non-zero instead of hanging it.
final class MPICheckTests: XCTestCase {
    /// Each run here takes 0.5–5 s; anything near this means a hang.
    private static let deadline: TimeInterval = 30

    func testChecksPassOnTwoRanks() throws {
        try assertChecksPass(ranks: 2, workersPerRank: 1)
    }

    func testChecksPassOnFourRanks() throws {
        try assertChecksPass(ranks: 4, workersPerRank: 1)
    }

    /// K = 3: a mean that is not a power of two divides after the all-reduce instead of scaling before.
    func testChecksPassOnThreeRanks() throws {
        try assertChecksPass(ranks: 3, workersPerRank: 1)
    }

    func testChecksPassWithTwoWorkersPerRank() throws {
        try assertChecksPass(ranks: 2, workersPerRank: 2)
    }

    /// K = 8 with groups of 4 workers over two ranks each: the cached `MPI_Comm_split` path.
    func testChecksPassWithGroupsSpanningRanks() throws {
        try assertChecksPass(ranks: 4, workersPerRank: 2)
    }

    /// Buffers longer than one all-reduce chunk (2¹⁸ floats), ending in a partial chunk; K = 3
    /// divides each chunk after its call, K = 2 scales before it.
    func testChecksPassOnBuffersOfSeveralChunks() throws {
        try assertChecksPass(ranks: 3, workersPerRank: 1, count: 600_001)
        try assertChecksPass(ranks: 2, workersPerRank: 2, count: 600_001)
    }

    /// `--reduction ordered`: every collective bitwise the in-process one (tolerance 0), on values
    /// in [−1, 1] and on order-sensitive ones (1e8, 1, −1e8, …), for ranks of one and of several
    /// workers, groups inside a rank and across ranks (split communicators), K = 3 (a mean that
    /// is not a power of two), broadcasts and the non-blocking mean.
    func testOrderedChecksAreBitwise() throws {
        for (ranks, workersPerRank) in [(2, 1), (3, 1), (2, 2), (4, 2)] {
            try assertChecksPass(ranks: ranks, workersPerRank: workersPerRank, reduction: "ordered")
        }
    }

    /// Three chunks of the ordered chain (2¹⁸ floats, the last one partial): rank 1 of 3 receives
    /// a chunk into a buffer it already received one into.
    func testOrderedChecksAreBitwiseOnBuffersOfSeveralChunks() throws {
        try assertChecksPass(ranks: 3, workersPerRank: 1, count: 600_001, reduction: "ordered")
    }

    func testKilledRankEndsTheJob() throws {
        let run = try mpirun(ranks: 3, ["--fail-rank", "1", "--fail-mode", "kill"])
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertLessThan(run.seconds, Self.deadline, run.output)
    }

    func testRankExitingWithErrorEndsTheJob() throws {
        let run = try mpirun(ranks: 3, ["--fail-rank", "1", "--fail-mode", "exit"])
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertLessThan(run.seconds, Self.deadline, run.output)
    }

    /// A rank that lives on but stops calling collectives: the watchdog of the others aborts the job.
    func testHungRankIsAbortedByTheCollectiveTimeout() throws {
        let run = try mpirun(ranks: 3, ["--fail-rank", "1", "--fail-mode", "hang", "--timeout", "3"])
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertLessThan(run.seconds, Self.deadline, run.output)
        XCTAssertTrue(run.output.contains("longer than the collective timeout"), run.output)
    }

    private func assertChecksPass(ranks: Int, workersPerRank: Int, count: Int? = nil, reduction: String = "fast",
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try mpirun(ranks: ranks, ["--workers-per-rank", String(workersPerRank), "--reduction", reduction]
                             + (count.map { ["--count", String($0)] } ?? []))
        XCTAssertEqual(run.status, 0, run.output, file: file, line: line)
        XCTAssertTrue(run.output.contains("reduction=\(reduction) "), "the checks ran another reduction:\n\(run.output)", file: file, line: line)
        XCTAssertFalse(run.output.contains("FAIL"), run.output, file: file, line: line)
        XCTAssertTrue(run.output.contains("ok counters"), "the checks did not run to the end:\n\(run.output)", file: file, line: line)
    }

    private struct Run {
        let status: Int32
        let seconds: TimeInterval
        let output: String
    }

    /// Runs the check binary on `ranks` ranks; ends mpirun after `deadline` seconds if need be.
    private func mpirun(ranks: Int, _ arguments: [String]) throws -> Run {
        guard let mpirun = Self.onPath("mpirun") else { throw XCTSkip("mpirun is not on PATH; Open MPI's runtime (openmpi-bin) is needed.") }
        let check = try Self.checkBinary()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-check-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw SetupError(description: "cannot create the log file \(log.path) for mpirun's output.")
        }
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = mpirun
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), check.path] + arguments
        process.standardOutput = handle
        process.standardError = handle
        let start = Date()
        try process.run()
        while process.isRunning && Date().timeIntervalSince(start) < Self.deadline + 5 {
            usleep(20_000)
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return Run(status: process.terminationStatus, seconds: seconds, output: output)
    }

    /// `localsgd-mpi-check` in the build directory holding this test bundle (.build/debug or .build/release).
    private static func checkBinary() throws -> URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = [executable.deletingLastPathComponent(), Bundle.main.bundleURL,
                          Bundle.main.bundleURL.deletingLastPathComponent()]
        for directory in candidates {
            let binary = directory.appendingPathComponent("localsgd-mpi-check")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw SetupError(description: "localsgd-mpi-check was not found next to the test bundle (looked in \(candidates.map(\.path))); build it with `swift build --build-tests`.")
    }

    private struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    private static func onPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").lazy
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
