import Foundation
import Launch
import TestSupport
import XCTest

/// Child processes: their output line by line, exit codes and signals, their own process group,
/// and the descendants they leave behind.
final class ChildProcessTests: XCTestCase {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [(ChildProcess.Stream, String)] = []
        func add(_ stream: ChildProcess.Stream, _ line: String) { lock.withLock { stored.append((stream, line)) } }
        func of(_ stream: ChildProcess.Stream) -> [String] { lock.withLock { stored.filter { $0.0 == stream }.map(\.1) } }
    }

    func shell(_ script: String, _ lines: Lines = Lines()) throws -> ChildProcess {
        try ChildProcess("/bin/sh", ["-c", script]) { lines.add($0, $1) }
    }

    func testLinesOfBothStreamsAndTheExitCode() throws {
        let lines = Lines()
        let child = try shell("echo out1; echo err1 >&2; echo out2; printf last; exit 3", lines)
        let exit = child.wait()
        child.finishReading(timeout: 5)
        XCTAssertEqual(exit.code, 3)
        XCTAssertNil(exit.signal)
        XCTAssertEqual(lines.of(.stdout), ["out1", "out2", "last"])
        XCTAssertEqual(lines.of(.stderr), ["err1"])
    }

    /// A line longer than 1 MiB comes in pieces cut between UTF-8 characters, whose end adds no
    /// empty line even when the newline arrives in a later read; standard input reaches the child.
    func testLongLinesComeInWholeCharactersAndInputReachesTheChild() throws {
        let lines = Lines()
        let long = String(repeating: "é", count: 600_000)  // 1.2 MB: one cut, at an odd byte count
        let child = try ChildProcess("/bin/sh", ["-c", "read a; printf '%s' \"$a\"; sleep 0.3; printf '\\nnext\\n'"], input: true,
                                     onLine: { lines.add($0, $1) })
        try child.writeInput(Data((long + "\n").utf8))
        child.closeInput()
        XCTAssertEqual(child.wait().code, 0)
        child.finishReading(timeout: 5)
        let out = lines.of(.stdout)
        XCTAssertEqual(out.last, "next")
        XCTAssertEqual(out.dropLast().joined(), long, "the pieces are the line")
        XCTAssertGreaterThan(out.count, 2, "cut into pieces")
        XCTAssertFalse(out.contains(""), "no empty line after the last piece")
        XCTAssertFalse(out.joined().contains("\u{FFFD}"), "no character cut in two")
        XCTAssertThrowsError(try child.writeInput(Data("more\n".utf8)), "input closed")
    }

    func testOwnProcessGroupAndDefaultSignalsWhileLaunchIgnoresThem() throws {
        let previous = signal(SIGINT, SIG_IGN)
        defer { signal(SIGINT, previous) }
        let child = try shell("exec sleep 30")
        XCTAssertEqual(getpgid(child.pid), child.pid, "a group of its own: a terminal's Ctrl-C reaches launch only")
        usleep(100_000)
        kill(child.pid, SIGINT)
        let exit = child.wait()
        XCTAssertEqual(exit.signal, SIGINT, "SIGINT is back to its default in the child")
        XCTAssertEqual(exit.code, 128 + SIGINT)
    }

    func testTimeoutAndTerminate() throws {
        let start = Date()
        let slow = try shell("exec sleep 30")
        XCTAssertEqual(slow.wait(timeout: 0.5).signal, SIGKILL)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        let polite = try shell("trap 'exit 7' TERM; while :; do sleep 0.05; done")
        usleep(200_000)
        DispatchQueue.global().async { polite.terminate(grace: 5) }
        XCTAssertEqual(polite.wait().code, 7, "SIGTERM first, so the job can end on its own")
    }

    /// A stopped grandchild (as a rank after a collective timeout) outlives its parent; it is
    /// killed, and reading ends since it held the output pipe.
    func testLeftoverDescendantsAreKilled() throws {
        let lines = Lines()
        // It ignores SIGHUP, which the kernel sends a stopped process whose group is orphaned, from
        // the fork on: set inside the background job, the trap could come after the stop.
        let child = try shell("trap '' HUP; sleep 30 & echo $!; kill -STOP $!; sleep 1.2; exit 0", lines)
        XCTAssertEqual(child.wait().code, 0)
        guard let leftover = lines.of(.stdout).first.flatMap({ pid_t($0) }) else { return XCTFail("no pid printed") }
        XCTAssertFalse([nil, "Z"].contains(ProcessTree.state(of: leftover)), "still there")
        XCTAssertEqual(child.killLeftovers(), 1)
        child.finishReading(timeout: 10)
        let deadline = Date().addingTimeInterval(5)
        while let state = ProcessTree.state(of: leftover), state != "Z", Date() < deadline { usleep(20_000) }
        XCTAssertTrue([nil, "Z"].contains(ProcessTree.state(of: leftover)), "killed")
    }

    func testAMissingExecutableIsASentence() {
        XCTAssertThrowsError(try ChildProcess("/nonexistent/mpirun", [], onLine: { _, _ in })) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot start /nonexistent/mpirun"), "\(error)")
        }
    }
}
