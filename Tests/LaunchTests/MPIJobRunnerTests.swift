import Foundation
import Launch
import TestSupport
import Training
import XCTest

/// The mpirun runner against a fake mpirun (a shell script): the command lines it builds, the
/// progress it passes on, how it reads the end, probes and stops.
final class MPIJobRunnerTests: XCTestCase {
    static let fake = """
        #!/bin/sh
        dir=$(dirname "$0")
        echo "$*" >> "$dir/calls"
        case "$*" in
          *" true") case "$*" in *"--host down:1"*) exit 1;; *"--host slow:1"*) exec sleep 30;; esac; exit 0;;
          *"--resume"*) exec sleep 30;;
        esac
        for s in 1 2 3; do
          echo '{"progress":{"epoch":1,"epochs":1,"eta_seconds":1,"loss":1,"lr":0.1,"samples_per_second":1,"step":'$s',"steps_per_epoch":10}}' >&2
        done
        echo "epoch 1: train loss 1.0"
        echo "mpirun noticed that process rank 1 with PID 0 on node vm exited on signal 9 (Killed)." >&2
        exit 137
        """

    func runner(_ dir: String, placement: Placement, output: @escaping (ChildProcess.Stream, String) -> Void = { _, _ in }) throws -> MPIJobRunner {
        let path = dir + "/mpirun"
        try Self.fake.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return MPIJobRunner(mpirun: path, mpirunArguments: ["--bind-to", "none"], placement: placement, environment: ["PATH": "/usr/bin:/bin"],
                            probeTimeout: 1, command: { job in ["/bin/localsgd", "train", job.resume ? "--resume" : "--out", "/runs/a"] },
                            output: output)
    }

    func testAJobWhoseRankDied() throws {
        let dir = try makeTemporaryDirectory(self)
        let seen = Locked([String]())
        let r = try runner(dir, placement: .local(ranks: 2)) { stream, line in seen.update { $0.append("\(stream): \(line)") } }
        let steps = Locked([Int]())
        let end = r.run(Job(ranks: 2, hosts: Placement.local(ranks: 2).hosts, resume: false)) { p in steps.update { $0.append(p.step) } }
        XCTAssertEqual(end, .rankDied(rank: 1, node: "vm", signal: 9, exitCode: 137))
        XCTAssertEqual(steps.value, [1, 2, 3])
        // Each stream keeps its order; between the two pipes (read by two threads) there is none.
        XCTAssertEqual(seen.value.sorted(), ["stderr: mpirun noticed that process rank 1 with PID 0 on node vm exited on signal 9 (Killed).",
                                             "stdout: epoch 1: train loss 1.0"],
                       "progress lines are the supervisor's, the rest the console's")
        let calls = try String(contentsOfFile: dir + "/calls", encoding: .utf8)
        XCTAssertEqual(calls, "--bind-to none -np 2 --oversubscribe /bin/localsgd train --out /runs/a\n")
    }

    func testProbesAreBoundedByTheirTimeout() throws {
        let dir = try makeTemporaryDirectory(self)
        let hosts = [HostSlots(name: "up", slots: 2), HostSlots(name: "down", slots: 2), HostSlots(name: "slow", slots: 1)]
        let r = try runner(dir, placement: Placement(source: .hostList, hosts: hosts))
        let start = Date()
        let results = r.probe(hosts)
        XCTAssertEqual(results.map(\.host), hosts)
        XCTAssertEqual(results.map(\.usable), [true, false, false])
        XCTAssertLessThan(Date().timeIntervalSince(start), 8, "the slow host is given up on after --probe-timeout 1 s")
        let calls = try String(contentsOfFile: dir + "/calls", encoding: .utf8).split(separator: "\n").sorted()
        XCTAssertEqual(calls, ["--bind-to none -np 1 --host down:1 true", "--bind-to none -np 1 --host slow:1 true",
                               "--bind-to none -np 1 --host up:1 true"])
    }

    func testStopEndsTheRunningJob() throws {
        let dir = try makeTemporaryDirectory(self)
        let r = try runner(dir, placement: .local(ranks: 2))
        r.grace = 1
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { r.stop(signal: SIGTERM) }
        let start = Date()
        let end = r.run(Job(ranks: 2, hosts: Placement.local(ranks: 2).hosts, resume: true)) { _ in }
        XCTAssertEqual(end, .stopped(signal: SIGTERM))
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }
}

/// A value behind a lock, for closures called from reader threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
