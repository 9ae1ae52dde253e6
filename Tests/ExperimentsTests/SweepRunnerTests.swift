import Foundation
import XCTest
@testable import Experiments
import Config
import Training

/// A launcher that counts launches and can stop a sweep part-way, as an interruption would.
final class CountingLauncher: RunLauncher, @unchecked Sendable {
    var launched: [String] = []
    var interruptAfter: Int?
    let lock = NSLock()
    var concurrent: Bool { false }

    func launch(_ job: RunJob, progress: @escaping (TrainingProgress) -> Void) -> RunOutcome {
        lock.lock()
        launched.append(job.name)
        let count = launched.count
        lock.unlock()
        if let n = interruptAfter, count > n {
            // Killed mid-run: the directory has config.json but no summary.json.
            try? Data("{}".utf8).write(to: URL(fileURLWithPath: job.directory + "/config.json"))
            return .failed("interrupted")
        }
        return InProcessLauncher().launch(job, progress: progress)
    }
}

final class SweepRunnerTests: XCTestCase {
    func sweep(_ dir: String) throws -> [SweepPoint] {
        try Fixtures.spec(Fixtures.base + """
        [axes]
        algorithm = ["local"]
        workers = [1, 2]
        local_steps = [1, 2]
        """, in: dir).expand()
    }

    func mtime(_ path: String) throws -> Date {
        try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as! Date
    }

    func testResumeSkipsFinishedRunsAndRedoesInterruptedOnes() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let points = try sweep(dir)
        let out = dir + "/out"
        let first = CountingLauncher()
        first.interruptAfter = 2
        let status = try SweepRunner(points: points, directory: out, launcher: first, source: "test").run()
        XCTAssertEqual(status.finished, 2)
        XCTAssertEqual(first.launched.count, 4)
        let finished = status.runs.filter { $0.state == .finished }.map(\.name)
        var stamps: [String: Date] = [:]
        for name in finished { stamps[name] = try mtime(out + "/" + name + "/summary.json") }

        // A sweep killed while writing sweep.json leaves its temporary file; the next start removes it.
        let stale = out + "/.sweep.json.\(UUID().uuidString).tmp"
        XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: Data("{".utf8)))
        let second = CountingLauncher()
        var events: [String] = []
        let resumed = try SweepRunner(points: points, directory: out, launcher: second, source: "test").run { event in
            if case .runEnded(let name, _, _, let p) = event { events.append("\(name) \(p.done)/\(p.total)") }
        }
        XCTAssertEqual(resumed.finished, 4)
        XCTAssertEqual(resumed.failed, 0)
        XCTAssertEqual(Set(second.launched), Set(points.map(\.name)).subtracting(finished), "only the unfinished runs run again")
        for name in finished {
            XCTAssertEqual(try mtime(out + "/" + name + "/summary.json"), stamps[name], "\(name) was not redone")
            XCTAssertEqual(resumed.runs.first { $0.name == name }?.reused, true)
        }
        for name in second.launched {
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/" + name + "/error.txt"), "the partial directory was replaced")
        }
        XCTAssertEqual(events.last?.hasSuffix("4/4"), true, "\(events)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))

        // A third time nothing runs.
        let third = CountingLauncher()
        XCTAssertEqual(try SweepRunner(points: points, directory: out, launcher: third, source: "test").run().finished, 4)
        XCTAssertEqual(third.launched, [])
    }

    /// A field varied for one algorithm is left out of the names of runs whose algorithm does not
    /// read it; a finished run under the name it had when such fields were named is kept, renamed.
    func testNamesLeaveOutFieldsTheAlgorithmDoesNotReadAndFormerNamesAreAdopted() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let points = try Fixtures.spec(Fixtures.base + """
        [[include]]
        algorithm = "minibatch"
        workers = 2

        [[include]]
        algorithm = "slowmo"
        workers = 2
        local_steps = 2
        slowmo_momentum = [0.5, 0.7]
        momentum_sync = ["local", "reset"]
        """, in: dir).expand()
        XCTAssertEqual(points.map(\.name), [
            "algorithm=minibatch,workers=2,local_steps=1",
            "algorithm=slowmo,workers=2,local_steps=2,slowmo_momentum=0.5,momentum_sync=local",
            "algorithm=slowmo,workers=2,local_steps=2,slowmo_momentum=0.5,momentum_sync=reset",
            "algorithm=slowmo,workers=2,local_steps=2,slowmo_momentum=0.7,momentum_sync=local",
            "algorithm=slowmo,workers=2,local_steps=2,slowmo_momentum=0.7,momentum_sync=reset",
        ])
        XCTAssertEqual(points[0].formerName, "algorithm=minibatch,workers=2,local_steps=1,slowmo_momentum=0.5,momentum_sync=local")
        XCTAssertEqual(points[0].fields.map(\.field), ["algorithm", "workers", "local_steps"])
        XCTAssertNil(points[1].formerName)

        let out = dir + "/out"
        let first = CountingLauncher()
        try SweepRunner(points: [points[0]], directory: out, launcher: first, source: "test").run()
        let fm = FileManager.default
        try fm.moveItem(atPath: out + "/" + points[0].name, toPath: out + "/" + points[0].formerName!)
        let second = CountingLauncher()
        let status = try SweepRunner(points: points, directory: out, launcher: second, source: "test").run()
        XCTAssertEqual(status.finished, 5)
        XCTAssertFalse(second.launched.contains(points[0].name), "the finished run under its former name was not run again")
        XCTAssertTrue(fm.fileExists(atPath: out + "/" + points[0].name + "/summary.json"))
        XCTAssertFalse(fm.fileExists(atPath: out + "/" + points[0].formerName!))
    }

    func testFailingRunIsRecordedAndTheOthersFinish() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let points = try Fixtures.spec(Fixtures.base + """
        global_every = 2
        [axes]
        algorithm = ["hierarchical"]
        workers = [4]
        group_size = [2, 3]
        """, in: dir).expand()
        let out = dir + "/out"
        let status = try SweepRunner(points: points, directory: out, launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(status.finished, 1)
        XCTAssertEqual(status.failed, 1)
        let bad = try XCTUnwrap(status.runs.first { $0.state == .failed })
        XCTAssertEqual(bad.name, "algorithm=hierarchical,workers=4,group_size=3")
        XCTAssertTrue(bad.error?.contains("group_size 3 must divide the 4 workers") == true, bad.error ?? "")
        let errorText = try String(contentsOfFile: out + "/" + bad.name + "/error.txt", encoding: .utf8)
        XCTAssertTrue(errorText.contains("group_size 3"), errorText)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/algorithm=hierarchical,workers=4,group_size=2/summary.json"))
        let saved = try JSONDecoder().decode(SweepStatus.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/sweep.json")))
        XCTAssertEqual(saved.failed, 1)
        XCTAssertEqual(saved.runs.first { $0.name == bad.name }?.state, .failed)
    }

    /// A diverged run is a result: resuming keeps it (the same config would diverge again at
    /// the same step) while an interrupted one is run again (the test above).
    func testResumeKeepsADivergedRun() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let points = try Fixtures.spec(Fixtures.base + """
        [axes]
        algorithm = ["local"]
        workers = [2]
        lr = [0.1, 1e30]
        """, in: dir).expand()
        let out = dir + "/out"
        let first = try SweepRunner(points: points, directory: out, launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(first.finished, 1)
        let diverged = try XCTUnwrap(first.runs.first { $0.state == .failed })
        XCTAssertTrue(diverged.name.contains("lr=1e+30"), diverged.name)
        XCTAssertTrue(TrainingError.isDivergence(diverged.error ?? ""), diverged.error ?? "")

        let again = CountingLauncher()
        let resumed = try SweepRunner(points: points, directory: out, launcher: again, source: "test").run()
        XCTAssertEqual(again.launched, [], "nothing is run again")
        XCTAssertEqual(resumed.finished, 1)
        XCTAssertEqual(resumed.failed, 1)
        let kept = try XCTUnwrap(resumed.runs.first { $0.name == diverged.name })
        XCTAssertEqual(kept.reused, true)
        XCTAssertEqual(kept.error, diverged.error?.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testFinishedRunWithAnotherConfigStopsTheSweep() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let out = dir + "/out"
        let points = try sweep(dir)
        try SweepRunner(points: Array(points.prefix(1)), directory: out, launcher: InProcessLauncher(), source: "test").run()
        var changed = points
        changed[0].config.schedule.epochs = 2
        XCTAssertThrowsError(try SweepRunner(points: Array(changed.prefix(1)), directory: out, launcher: InProcessLauncher(), source: "test").run()) { error in
            XCTAssertTrue("\(error)".contains("field 'epochs'"), "\(error)")
        }
    }

    /// The real thing: child processes of the built executable, two at a time.
    func testProcessLauncherRunsTheExecutableInParallel() throws {
        var dir = Bundle(for: SweepRunnerTests.self).bundleURL.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("localsgd").path) {
            dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
        }
        let executable = dir.appendingPathComponent("localsgd").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: executable), "localsgd is not built")
        let tmp = try Fixtures.temporaryDirectory(self)
        let points = try Fixtures.spec(Fixtures.base + """
        [axes]
        workers = [2]
        algorithm = ["hierarchical"]
        group_size = [2, 3]
        local_steps = [1, 2]
        """, in: tmp).expand()
        let status = try SweepRunner(points: points, directory: tmp + "/out", launcher: ProcessLauncher(executable: executable),
                                     jobs: 2, source: "test").run()
        XCTAssertEqual(status.finished, 2)
        XCTAssertEqual(status.failed, 2)
        for run in status.runs where run.state == .failed {
            XCTAssertTrue(run.error?.contains("group_size 3") == true, run.error ?? "")
            XCTAssertFalse(run.error?.contains("localsgd: error:") == true, "the CLI prefix is stripped")
        }
        for run in status.runs where run.state == .finished {
            let log = try String(contentsOfFile: tmp + "/out/" + run.name + "/train.log", encoding: .utf8)
            XCTAssertTrue(log.contains("epoch 1:"), log)
        }
    }

    /// Every run reports where its training is, at least at the end of each epoch, and its pace
    /// gives the sweep an ETA.
    func testSweepReportsEachRunsTrainingProgress() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base.replacingOccurrences(of: "epochs = 1", with: "epochs = 2") + """
        [axes]
        workers = [1, 2]
        """, in: dir)
        var seen: [String: [TrainingProgress]] = [:]
        try SweepRunner(points: spec.expand(), directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run { event in
            if case .runProgress(let name, let training, let p) = event {
                seen[name, default: []].append(training)
                XCTAssertEqual(p.running, 1)
                XCTAssertNotNil(p.etaSeconds, "a running run's pace gives an ETA before any run finished")
            }
        }
        XCTAssertEqual(Set(seen.keys), ["workers=1", "workers=2"])
        for (name, list) in seen {
            let ends = list.filter { $0.step == $0.stepsPerEpoch }.map(\.epoch)
            XCTAssertEqual(ends, [1, 2], name)
        }
    }
}
