import ArgumentParser
import Config
import Experiments
import Foundation
import RunFiles
import Training

/// `localsgd train`: one training run with any algorithm.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model with minibatch, local, post-local, hierarchical, asynchronous local SGD, SlowMo or (streaming) DiLoCo over K workers.",
        discussion: """
        Settings come from the defaults, then --config FILE (TOML, YAML or JSON with the flag names, \
        e.g. batch_size = 32, or by section: schedule.batch_size = 32, or batch_size under [schedule]), \
        then the flags given; the flags below are grouped by those sections. Results go to --out DIR: config.json, metrics.jsonl, \
        summary.json and final.safetensors (and async.json for --algorithm async).
        """)

    @OptionGroup var options: RunOptions
    @Option(help: "Run config file (.toml, .yaml/.yml or .json) with the flags' names in snake_case, flat or as section.name.")
    var config: String?
    @Option(help: "Directory for the run's results (must not already hold a run).")
    var out: String?
    @Option(help: "Continue the run in DIR from its newest intact checkpoint (settings from DIR/config.json), in one process or on any number of MPI ranks that divides --workers.")
    var resume: String?
    @Flag(help: "Only print one line per epoch.")
    var quiet = false
    /// For `localsgd sweep`, which reads a child run's stderr: progress as JSON lines, even with --quiet.
    @Flag(help: .hidden)
    var progressJSON = false
    /// For `localsgd launch`, which counts the steps a failure costs: seconds between progress
    /// lines (0: after every iteration).
    @Option(help: .hidden)
    var progressInterval = 2.0

    func validate() throws {
        guard progressInterval >= 0, progressInterval.isFinite else {
            throw ValidationError("--progress-interval must be 0 or more seconds, got \(progressInterval)")
        }
    }

    func run() throws {
        do {
            try reportingErrors {
                let resolved = try resolveConfig()
                _ = try RunDriver.run(resolved, out: resume ?? out, resume: resume != nil, backend: resolved.execution.backend.make(),
                                      events: Console.printer(quiet: quiet, progressJSON: progressJSON),
                                      progressInterval: progressInterval)
            }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }

    /// Defaults ← DIR/config.json when resuming ← --config FILE ← flags.
    func resolveConfig() throws -> RunConfig {
        var config = RunConfig()
        if let dir = resume {
            if out != nil && out != dir { throw TrainingError("give either --out or --resume, not both") }
            config = try RunDirectory.configToResume(dir)
        }
        if let file = config_ {
            config = try ConfigLoader.load(file, onto: config)
        }
        config = try options.apply(to: config)
        try config.validate()
        return config
    }

    private var config_: String? { self.config }
}
