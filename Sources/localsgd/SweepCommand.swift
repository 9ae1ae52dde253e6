import ArgumentParser
import Config
import Experiments
import Foundation
import Training

/// `localsgd sweep`: a grid of runs from one file, several at a time, resumable.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of trainings from a sweep file, each in its own directory, resumable.",
        discussion: """
        FILE (TOML, YAML or JSON) holds a base config (top-level run fields and/or a [base] table), \
        [axes] (field = [values], expanded as a grid), optional [[include]] entries (extra points; \
        a list in one expands to its own grid) and optional seeds = [1, 2, 3] (every point once per \
        seed). Each run goes to OUT/<field=value,...>/ as `localsgd train` writes it; OUT/sweep.json \
        records every run's state. Running the same sweep again skips finished runs and redoes \
        failed or interrupted ones. See docs/STUDY.md.
        """)

    @Argument(help: "Sweep file (.toml, .yaml/.yml or .json).") var file: String
    @Option(help: "Directory for the runs (default: FILE without its extension).") var out: String?
    @Option(help: "Runs at once, each a separate process; each gets max(1, cores/N) threads unless the file sets threads.")
    var jobs = 1
    @Flag(help: "Only list the runs the sweep would do.") var dryRun = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    func run() throws {
        do {
            try reportingErrors {
                let spec = try SweepSpec.load(file)
                let directory = out ?? (file as NSString).deletingPathExtension
                let status = try SweepCommand.execute(spec, directory: directory, jobs: jobs, dryRun: dryRun)
                if let status, status.failed > 0 { throw ExitCodeError.failure }
            }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }

    /// Expands and runs `spec` into `directory` with progress lines on stderr; shared with `study`.
    static func execute(_ spec: SweepSpec, directory: String, jobs: Int, dryRun: Bool = false) throws -> SweepStatus? {
        let threads = min(Int(RunConfig.ranges["threads"]!.upper), max(1, ProcessInfo.processInfo.activeProcessorCount / jobs))
        let points = try spec.expand(threads: threads)
        if dryRun {
            for p in points { print(p.name) }
            print("\(points.count) runs -> \(directory)")
            return nil
        }
        let runner = SweepRunner(points: points, directory: directory, launcher: ProcessLauncher(executable: executablePath()),
                                 jobs: jobs, source: spec.source)
        Console.status("sweep: \(points.count) runs -> \(directory) (\(jobs) at a time, \(spec.sets("threads") ? "threads from the file" : "\(threads) thread\(threads == 1 ? "" : "s") each"))")
        // Runs are `#N` (their place in the sweep) in progress lines, which name several at once.
        let number = Dictionary(points.enumerated().map { ($1.name, "#\($0 + 1)") }) { a, _ in a }
        var training: [(name: String, progress: TrainingProgress?)] = []  // the running runs, in start order
        var lastLine = Date()
        let status = try runner.run { event in
            switch event {
            case .runStarted(let name, let p):
                training.append((name, nil))
                Console.status("\(line(p)) | started \(number[name]!) \(name)")
            case .runProgress(let name, let progress, let p):
                if let i = training.firstIndex(where: { $0.name == name }) { training[i].progress = progress }
                // Runs report every two seconds each; one line for all of them is enough.
                guard Date().timeIntervalSince(lastLine) >= 4 else { return }
                Console.status("\(line(p)) " + training.compactMap { run in run.progress.map { "\(number[run.name]!) \(describe($0))" } }
                    .joined(separator: " | "))
            case .runEnded(let name, let outcome, let seconds, let p):
                training.removeAll { $0.name == name }
                switch outcome {
                case .finished: Console.status("\(line(p)) | finished \(number[name]!) \(name) in \(Console.duration(seconds))")
                case .failed(let error):
                    Console.status("\(line(p)) | FAILED \(number[name]!) \(name): \(error.split(separator: "\n").first ?? "")")
                }
            }
            lastLine = Date()
        }
        let reused = status.runs.filter { $0.reused == true }.count
        print("sweep: \(status.finished)/\(status.total) finished (\(reused) from before), \(status.failed) failed -> \(directory)/sweep.json")
        for r in status.runs where r.state == .failed {
            print("  failed: \(r.name): \(r.error?.split(separator: "\n").first ?? "") (see \(directory)/\(r.name)/error.txt)")
        }
        fflush(stdout)  // before what follows on stderr, also when stdout is a pipe
        return status
    }

    /// `step 120/234 loss 0.5213`, with the epoch when there are several.
    static func describe(_ t: TrainingProgress) -> String {
        (t.epochs > 1 ? "epoch \(t.epoch)/\(t.epochs) " : "") + "step \(t.step)/\(t.stepsPerEpoch) loss " + String(format: "%.4f", t.loss)
    }

    static func line(_ p: SweepProgress) -> String {
        "[\(p.done)/\(p.total) done, \(p.failed) failed, \(p.running) running, ETA \(p.etaSeconds.map(Console.duration) ?? "?")]"
    }

    /// This executable, for child runs.
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
