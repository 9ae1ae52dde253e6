import Foundation
import Launch
import Training
import XCTest

/// The supervisor loop against a scripted runner: no MPI, no processes, a fake clock.
final class SupervisorTests: XCTestCase {
    /// One scripted job: the steps it reports (0.1 s apart) and how it ends (after 1 s more).
    struct Script {
        var steps: ClosedRange<Int>?
        var end: JobEnd
        /// Checkpoint steps (of every rank) the job leaves on disk.
        var checkpoints: [Int] = []
    }

    final class ScriptedRunner: JobRunner {
        var scripts: [Script]
        var down: Set<String> = []
        var jobs: [Job] = []
        var probes = 0
        var time = 0.0
        var checkpoints: [Int] = []
        /// Steps only rank 0 wrote.
        var partial: [Int] = []
        var finished = false
        var supervisor: Supervisor?
        var interruptAtJob: Int?

        init(_ scripts: [Script]) { self.scripts = scripts }

        func run(_ job: Job, progress: @escaping (TrainingProgress) -> Void) -> JobEnd {
            jobs.append(job)
            let script = scripts.removeFirst()
            time += 2  // start-up
            for step in script.steps.map(Array.init) ?? [] {
                time += 0.1
                let epoch: Int = (step - 1) / 100 + 1, inEpoch: Int = (step - 1) % 100 + 1
                let line = #"{"progress":{"epoch":\#(epoch),"epochs":3,"eta_seconds":1,"loss":1,"lr":0.1,"samples_per_second":1,"step":\#(inEpoch),"steps_per_epoch":100}}"#
                progress(TrainingProgress(jsonLine: line)!)
            }
            checkpoints += script.checkpoints
            if jobs.count == interruptAtJob { supervisor?.interrupt(signal: 2) }
            time += 1
            if script.end == .succeeded { finished = true }
            return script.end
        }

        func stop(signal: Int32) {}

        func probe(_ hosts: [HostSlots]) -> [(host: HostSlots, usable: Bool, seconds: Double)] {
            probes += 1
            time += 0.5
            return hosts.map { ($0, !down.contains($0.name), 0.5) }
        }
    }

    func supervise(_ runner: ScriptedRunner, placement: Placement = .local(ranks: 2), workers: Int = 2, minRanks: Int = 1,
                   maxRestarts: Int = 3, resumed: Bool = false) -> (Supervisor.Report, [LaunchEvent]) {
        var events: [LaunchEvent] = []
        let ranks = placement.slots
        let folder = RunFolder(path: "/runs/a", isFinished: { runner.finished }, checkpoints: { runner.checkpoints }, discardCheckpoints: {
            defer { runner.checkpoints = []; runner.partial = [] }
            return runner.checkpoints.count + runner.partial.count
        })
        let supervisor = Supervisor(placement: placement, policy: RestartPolicy(workers: workers, ranks: ranks, minRanks: minRanks, maxRestarts: maxRestarts),
                                    runner: runner, folder: folder, startResumed: resumed,
                                    clock: { Date(timeIntervalSince1970: runner.time) }) { events.append($0) }
        runner.supervisor = supervisor
        return (supervisor.run(), events)
    }

    let killed = JobEnd.rankDied(rank: 1, node: "vm", signal: 9, exitCode: 137)

    func testTwoKillsThenTheRunFinishes() {
        let runner = ScriptedRunner([
            Script(steps: 1...57, end: killed, checkpoints: [25, 50]),
            Script(steps: 51...130, end: .collectiveTimeout(rank: 0), checkpoints: [75, 100, 125]),
            Script(steps: 126...300, end: .succeeded, checkpoints: [150, 300]),
        ])
        let (report, events) = supervise(runner)
        XCTAssertEqual(report.outcome, .finished)
        XCTAssertEqual(report.restarts, 2)
        XCTAssertEqual(report.stepsRedone, 7 + 5)
        XCTAssertEqual(events.map(\.kind), [.start, .failure, .probe, .restart, .resumed, .failure, .probe, .restart, .resumed, .finished])
        XCTAssertEqual(runner.jobs, [Job(ranks: 2, hosts: Placement.local(ranks: 2).hosts, resume: false),
                                     Job(ranks: 2, hosts: Placement.local(ranks: 2).hosts, resume: true),
                                     Job(ranks: 2, hosts: Placement.local(ranks: 2).hosts, resume: true)])
        let failures = events.filter { $0.kind == .failure }
        XCTAssertEqual(failures.map(\.lastStep), [57, 130])
        XCTAssertEqual(failures.map(\.exitCode), [137, 124])
        XCTAssertEqual(failures.map(\.rank), [1, 0])
        XCTAssertEqual(events.filter { $0.kind == .restart }.map(\.checkpointStep), [50, 125])
        let resumed = events.filter { $0.kind == .resumed }
        XCTAssertEqual(resumed.map(\.checkpointStep), [50, 125])
        XCTAssertEqual(resumed.map(\.stepsRedone), [7, 5])
        // Failure seen at 2 + 5.7 + 1 = 8.7 s; probe 0.5 s, start-up 2 s, first step 0.1 s.
        XCTAssertEqual(resumed[0].secondsToTraining!, 2.6, accuracy: 1e-6)  // Date keeps about 1e-7 s here
        let finished = events.last!
        XCTAssertEqual(finished.restarts, 2)
        XCTAssertEqual(finished.stepsRedone, 12)
        XCTAssertEqual(finished.lastStep, 300)
        // Each failure stood still for 1 + 0.5 + 2 s plus the steps redone at 0.1 s each.
        XCTAssertEqual(report.secondsLost, (3.5 + 0.7) + (3.5 + 0.5), accuracy: 1e-6)
        XCTAssertTrue(finished.line.contains("2 restarts"), finished.line)
    }

    func testAFailureBeforeTheFirstCheckpointStartsAgainFromScratch() {
        let runner = ScriptedRunner([Script(steps: 1...10, end: killed), Script(steps: 1...300, end: .succeeded)])
        let (report, events) = supervise(runner)
        XCTAssertEqual(report.outcome, .finished)
        XCTAssertEqual(runner.jobs.map(\.resume), [false, false])
        XCTAssertEqual(events.first { $0.kind == .restart }?.resume, false)
        XCTAssertEqual(report.stepsRedone, 10)
    }

    /// Rank 1 died writing the first checkpoint: rank 0's file of that step cannot be resumed.
    func testACheckpointNoRankSetFinishedIsRemovedAndTheRunStartsAgain() {
        let runner = ScriptedRunner([Script(steps: 1...12, end: killed), Script(steps: 1...300, end: .succeeded)])
        runner.partial = [10]
        let (report, events) = supervise(runner)
        XCTAssertEqual(report.outcome, .finished)
        XCTAssertEqual(runner.jobs.map(\.resume), [false, false])
        XCTAssertTrue(runner.partial.isEmpty, "removed, or train --out would refuse the directory")
        XCTAssertEqual(events.first { $0.kind == .restart }?.message, "removed 1 checkpoint the ranks never finished; starting from step 0")
    }

    func testAnErrorOfTheRunIsNotRestarted() {
        let runner = ScriptedRunner([Script(steps: nil, end: .runError(rank: 0, message: "no data"))])
        let (report, events) = supervise(runner)
        guard case .gaveUp(let reason) = report.outcome else { return XCTFail("\(report.outcome)") }
        XCTAssertTrue(reason.contains("no data"), reason)
        XCTAssertEqual(events.map(\.kind), [.start, .failure, .gaveUp])
        XCTAssertEqual(runner.probes, 0)
    }

    func testRestartsAreBounded() {
        let runner = ScriptedRunner(Array(repeating: Script(steps: 1...5, end: killed), count: 3))
        let (report, events) = supervise(runner, maxRestarts: 2)
        guard case .gaveUp(let reason) = report.outcome else { return XCTFail("\(report.outcome)") }
        XCTAssertTrue(reason.contains("--max-restarts is 2"), reason)
        XCTAssertEqual(events.filter { $0.kind == .restart }.count, 2)
        XCTAssertEqual(runner.jobs.count, 3)
    }

    /// A host that no longer answers: the restart uses the others, as many ranks as divide K,
    /// from the newest checkpoint (which resumes on any of them).
    func testAHostDownRestartsOnFewerRanks() {
        let a = HostSlots(name: "a", slots: 4), b = HostSlots(name: "b", slots: 2), c = HostSlots(name: "c", slots: 2)
        let rank4 = JobEnd.rankDied(rank: 4, node: "vm", signal: 9, exitCode: 137)
        let runner = ScriptedRunner([Script(steps: 1...57, end: rank4, checkpoints: [50]), Script(steps: 51...300, end: .succeeded)])
        runner.down = ["b"]
        let (report, events) = supervise(runner, placement: Placement(source: .hostList, hosts: [a, b, c]), workers: 8)
        XCTAssertEqual(report.outcome, .finished)
        XCTAssertEqual(runner.jobs.last, Job(ranks: 4, hosts: [a, c], resume: true), "6 usable ranks; 4 is the largest that divides K = 8")
        XCTAssertEqual(events.filter { $0.kind == .probe }.map(\.usable), [true, false, true])
        XCTAssertEqual(events.first { $0.kind == .failure }?.host, "b", "ranks 0-3 on a, 4-5 on b")
        XCTAssertEqual(events.first { $0.kind == .restart }?.checkpointStep, 50)
        XCTAssertEqual(report.stepsRedone, 7)
    }

    func testAHostDownBelowMinRanksGivesUp() {
        let runner = ScriptedRunner([Script(steps: 1...57, end: killed, checkpoints: [50])])
        runner.down = ["localhost"]
        let (report, _) = supervise(runner, placement: .local(ranks: 2))
        guard case .gaveUp(let reason) = report.outcome else { return XCTFail("\(report.outcome)") }
        XCTAssertTrue(reason.contains("only 0 ranks can run"), reason)
    }

    func testAnInterruptStopsWithoutARestart() {
        let runner = ScriptedRunner([Script(steps: 1...20, end: .stopped(signal: 2))])
        runner.interruptAtJob = 1
        let (report, events) = supervise(runner)
        XCTAssertEqual(report.outcome, .interrupted(signal: 2))
        XCTAssertEqual(events.map(\.kind), [.start, .interrupted])
        XCTAssertEqual(events.last?.signal, 2)
        XCTAssertEqual(events.last?.lastStep, 20)
    }
}
