import Config
import Foundation
import RunFiles
import Training

/// Runs the points of a sweep into one directory, one subdirectory per run, `jobs` at a time.
/// Finished runs (with `summary.json`) are kept and skipped, and so are diverged runs (their
/// `error.txt` says the model became non-finite): the same config gives the same numbers, so
/// running one again would diverge again. Any other run directory without `summary.json` is a
/// failed or interrupted run of this sweep and is removed and run again. A failing run is
/// recorded (`<run>/error.txt`, `sweep.json`) and the others go on.
public final class SweepRunner {
    public let points: [SweepPoint]
    public let directory: String
    public let launcher: RunLauncher
    public let jobs: Int
    public let source: String

    private let lock = NSLock()
    private var status: SweepStatus
    private var next = 0
    private var start = 0.0
    private var finishedSeconds: [Double] = []
    /// Running runs by index: when each started and the share of its training steps done.
    private var running: [Int: (start: Double, done: Double)] = [:]
    private var events: ((SweepEvent) -> Void)?

    public init(points: [SweepPoint], directory: String, launcher: RunLauncher, jobs: Int = 1, source: String) {
        self.points = points
        self.directory = directory
        self.launcher = launcher
        self.jobs = launcher.concurrent ? max(1, jobs) : 1
        self.source = source
        status = SweepStatus(source: source, jobs: self.jobs, total: points.count, finished: 0, failed: 0, updated: "",
                             runs: points.map { SweepStatus.Run(name: $0.name, state: .pending, fields: Dictionary($0.fields.map { ($0.field, $0.value) }) { a, _ in a }) })
    }

    public func runDirectory(_ point: SweepPoint) -> String { directory + "/" + point.name }

    /// Renames the finished runs of an earlier version of this sweep, whose names still carried
    /// fields their algorithm does not read, to their present names, so that they are kept.
    func adoptFormerNames() throws {
        let fm = FileManager.default
        for point in points {
            guard let former = point.formerName else { continue }
            let old = directory + "/" + former, new = runDirectory(point)
            guard fm.fileExists(atPath: old + "/summary.json"), !fm.fileExists(atPath: new) else { continue }
            do {
                try fm.moveItem(atPath: old, toPath: new)
            } catch {
                throw TrainingError("cannot rename the finished run \(old) to \(new): \(error.localizedDescription)")
            }
        }
    }

    /// Runs every unfinished point and returns the final status (also in `sweep.json`).
    /// Throws only for problems with the sweep as a whole (directory, a finished run whose
    /// config no longer matches the file); a failing run is recorded, not thrown.
    @discardableResult
    public func run(events: ((SweepEvent) -> Void)? = nil) throws -> SweepStatus {
        self.events = events
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError("cannot create the sweep directory \(directory): \(error.localizedDescription)")
        }
        let lockFile = try SweepLock(directory: directory)
        defer { lockFile.release() }
        RunDirectory.removeTemporaryFiles(in: directory) { $0 == "sweep.json" }  // left by a sweep killed while writing it
        try adoptFormerNames()
        for (i, point) in points.enumerated() {
            let dir = runDirectory(point)
            if FileManager.default.fileExists(atPath: dir + "/summary.json") {
                try SweepRunner.checkFinishedRun(dir, matches: point.config)
                status.runs[i].state = .finished
            } else if let text = SweepRunner.divergence(in: dir) {
                try SweepRunner.checkFinishedRun(dir, matches: point.config)
                status.runs[i].state = .failed
                status.runs[i].error = text
            } else {
                continue
            }
            status.runs[i].reused = true
            status.runs[i].seconds = SweepRunner.recordedSeconds(dir)
        }
        try writeStatus()
        start = Date().timeIntervalSince1970
        let group = DispatchGroup()
        for _ in 0..<min(jobs, max(1, points.count)) {
            group.enter()
            Thread.detachNewThread { [self] in
                while let i = takeNext() { runPoint(i) }
                group.leave()
            }
        }
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        try writeStatus()
        return status
    }

    private func takeNext() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        while next < points.count {
            let i = next
            next += 1
            if status.runs[i].state == .pending { return i }
        }
        return nil
    }

    private func runPoint(_ i: Int) {
        let point = points[i], dir = runDirectory(point)
        let runStart = Date().timeIntervalSince1970
        var outcome: RunOutcome
        do {
            if FileManager.default.fileExists(atPath: dir) { try FileManager.default.removeItem(atPath: dir) }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(encoder.encode(point.config), to: dir + "/run.json")
            update(i) { $0.state = .running } event: { .runStarted(name: point.name, progress: $0) }
            outcome = launcher.launch(RunJob(name: point.name, config: point.config, directory: dir, runFile: dir + "/run.json")) {
                [self] training in
                lock.lock()
                defer { lock.unlock() }
                running[i]?.done = Double((training.epoch - 1) * training.stepsPerEpoch + training.step)
                    / Double(max(1, training.epochs * training.stepsPerEpoch))
                events?(.runProgress(name: point.name, training: training, progress: progress()))
            }
        } catch {
            outcome = .failed("cannot prepare the run directory \(dir): \(error)")
        }
        if outcome == .finished && !FileManager.default.fileExists(atPath: dir + "/summary.json") {
            outcome = .failed("the run ended without writing summary.json")
        }
        if case .failed(let text) = outcome {
            try? AtomicFile.write(Data((text + "\n").utf8), to: dir + "/error.txt")
        }
        let seconds = Date().timeIntervalSince1970 - runStart
        update(i) {
            $0.seconds = seconds
            switch outcome {
            case .finished: $0.state = .finished
            case .failed(let text): $0.state = .failed; $0.error = text
            }
        } event: { .runEnded(name: point.name, outcome: outcome, seconds: seconds, progress: $0) }
    }

    private func update(_ i: Int, _ change: (inout SweepStatus.Run) -> Void, event: (SweepProgress) -> SweepEvent) {
        lock.lock()
        defer { lock.unlock() }
        change(&status.runs[i])
        if status.runs[i].state == .finished, let s = status.runs[i].seconds { finishedSeconds.append(s) }
        if status.runs[i].state == .running {
            running[i] = (Date().timeIntervalSince1970, 0)
        } else {
            running[i] = nil
        }
        try? writeStatus()
        events?(event(progress()))
    }

    private func progress() -> SweepProgress {
        let runs = status.runs
        let count = { (state: SweepStatus.State) in runs.filter { $0.state == state }.count }
        let remaining = count(.pending) + count(.running)
        return SweepProgress(total: runs.count, finished: count(.finished), failed: count(.failed), running: count(.running),
                             reused: runs.filter { $0.reused == true }.count,
                             elapsedSeconds: Date().timeIntervalSince1970 - start, etaSeconds: remaining == 0 ? 0 : eta())
    }

    /// What the running runs have left (each from its own pace once it has done 2 % of its
    /// steps) plus the pending runs at the mean duration of the finished runs (or, before any
    /// finished, the running runs' projected durations), shared among the jobs.
    private func eta() -> Double? {
        let now = Date().timeIntervalSince1970
        let projected = running.values.filter { $0.done >= 0.02 }.map { (now - $0.start) / $0.done }
        let all = finishedSeconds.isEmpty ? projected : finishedSeconds
        guard !all.isEmpty else { return nil }
        let mean = all.reduce(0, +) / Double(all.count)
        let left = running.values.reduce(0.0) { sum, r in
            let elapsed = now - r.start
            return sum + max(0, (r.done >= 0.02 ? elapsed / r.done : mean) - elapsed)
        }
        return (left + mean * Double(status.runs.filter { $0.state == .pending }.count)) / Double(jobs)
    }

    private func writeStatus() throws {
        status.recount()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(status), to: directory + "/sweep.json")
    }

    /// A finished run is reused only if it ran the config the file now asks for (threads aside:
    /// they do not change results); otherwise the sweep stops rather than mix two experiments.
    static func checkFinishedRun(_ dir: String, matches planned: RunConfig) throws {
        var found = try RunDirectory.savedConfig(dir + "/config.json")
        found.execution.threads = planned.execution.threads
        guard found.resultDefining != planned.resultDefining else { return }
        let a = try JSONSerialization.jsonObject(with: JSONEncoder().encode(found)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: JSONEncoder().encode(planned)) as! [String: Any]
        let field = RunConfig.fieldNames.first { "\(a[$0] ?? "none")" != "\(b[$0] ?? "none")" } ?? "?"
        throw ConfigError("\(dir) finished with a different config than the sweep file now gives (field '\(field)': \(a[field] ?? "none") there, \(b[field] ?? "none") now); sweep into another --out, or remove that run directory to run it again.")
    }

    /// The error of a run in `dir` that diverged after its training started (it wrote
    /// `config.json`), nil for any other directory.
    static func divergence(in dir: String) -> String? {
        guard FileManager.default.fileExists(atPath: dir + "/config.json"),
              let text = try? String(contentsOfFile: dir + "/error.txt", encoding: .utf8),
              TrainingError.isDivergence(text) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func recordedSeconds(_ dir: String) -> Double? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return (object["seconds"] as? NSNumber)?.doubleValue
    }
}

/// An exclusive lock on a sweep directory, so two sweeps never write the same runs.
struct SweepLock {
    let descriptor: Int32

    init(directory: String) throws {
        let path = directory + "/.sweep.lock"
        descriptor = open(path, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else { throw TrainingError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw TrainingError("another sweep is running in \(directory); wait for it or use another --out")
        }
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
