import ArgumentParser
import Comm
import Experiments
import Foundation
import NN
import RunFiles
import Training

/// `localsgd study`: the trade-off study's experiments as presets, and the timing model alone.
struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Reproduce the local-SGD trade-off study: timing model, paper presets, convex check, a quick look.",
        subcommands: [StudyTimingCommand.self, StudyPaperCommand.self, StudyConvexCommand.self, StudyQuickstartCommand.self,
                      StudyDiLoCoCommand.self, StudyCompressionCommand.self, StudySchedulesCommand.self, StudyFaultsCommand.self])
}

/// Options shared by the presets that run a sweep.
struct PresetOptions: ParsableArguments {
    @Option(help: "Directory for the sweep and its report (default: study-<preset> in the current directory).")
    var out: String?
    @Option(help: "Runs at once, each a separate process with max(1, cores/N) threads.")
    var jobs = 2
    @Option(help: "Use this model instead of the preset's: an image model for paper, convex, quickstart, compression and schedules (e.g. cnn for a slower, closer --quick), a GPT (gpt-micro, gpt-mini, gpt-tiny) for diloco.")
    var model: String?
    @Flag(help: "Write the sweep file and list the runs with a time estimate, but run nothing.")
    var dryRun = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    /// Writes the preset's sweep file, runs it, writes the report and says where it is; with
    /// `table`, prints the runs side by side first.
    func run(_ preset: StudyPreset, table: Bool = false) throws {
        let directory = out ?? "study-\(preset.rawValue)"
        if let model {
            guard let kind = ModelKind(rawValue: model) else {
                throw ValidationError("--model \(model) is not a model; choose one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let text = preset == .diloco || preset == .dilocoQuick
            guard kind.isLanguageModel == text else {
                throw ValidationError("--model \(model) cannot run study \(preset.rawValue): it " + (text
                    ? "trains on text, which needs a GPT (gpt-micro, gpt-mini or gpt-tiny)"
                    : "trains on images, which a GPT cannot read"))
            }
        }
        let spec = preset.spec(model: model)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/study.toml"
        // The first line names the preset, so that another preset (or a --dry-run of one) never
        // takes over a directory holding this one's runs.
        let marker = "# localsgd study "
        if let old = try? String(contentsOfFile: file, encoding: .utf8), old.hasPrefix(marker),
           let other = old.dropFirst(marker.count).split(separator: "\n", maxSplits: 1).first.map(String.init), other != preset.rawValue {
            func command(_ name: String) -> String { "localsgd study " + (name.hasSuffix("-quick") ? name.dropLast(6) + " --quick" : name) }
            throw ValidationError("\(directory) holds the sweep of `\(command(other))` (its study.toml names it); "
                                  + "give `\(command(preset.rawValue))` another --out, or delete \(directory) to start over")
        }
        try AtomicFile.write(Data((marker + preset.rawValue + "\n" + spec.toml).utf8), to: file)
        let loaded = try SweepSpec.load(file)  // run what the file says, so the file reproduces the study
        let points = try loaded.expand(threads: max(1, ProcessInfo.processInfo.activeProcessorCount / jobs))
        Console.status("study \(preset.rawValue): \(points.count) runs, roughly \(Console.duration(StudyPreset.estimateSeconds(points, jobs: jobs))) on a quiet 2-core machine; sweep file \(file)")
        let status = try SweepCommand.execute(loaded, directory: directory, jobs: jobs, dryRun: dryRun)
        guard !dryRun else { return }
        let report = try ReportCommand.write([directory], out: directory + "/report.html")
        if table {
            let records = try points.compactMap { try RunRecord.load(directory + "/" + $0.name, name: $0.name) }
            print("\n" + RunTable(records).text)
        }
        print("report: \(report)")
        if let status, status.failed > 0 { throw ExitCodeError.failure }
    }
}

struct StudyPaperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paper",
        abstract: "The study's figures 1–11 at Fashion-MNIST scale: sweep, then report.",
        discussion: """
        Full: cnn (4 epochs, 3 seeds, lr 0.0125 scaled by K·B/256) over K ∈ {1,4,16,64} and \
        H ∈ {4,32} with minibatch, local and post-local SGD (T=1), switching points T=1–3 with step \
        and cosine schedules at K=16, H=4, SlowMo on and off; plus resnet20 (2 epochs, 1 seed) on \
        the K–H grid. Hours. --quick: the same design with the mlp (4 epochs, lr 0.05, K ∈ {1,4,16}, \
        H ∈ {4,16}, two seeds): about ten minutes. All runs model a flat 10gbit:50us network. The sweep file is \
        written to OUT/study.toml and the report to OUT/report.html; re-running resumes.
        """)

    @Flag(help: "The quick version (minutes instead of hours).") var quick = false
    @OptionGroup var options: PresetOptions

    func run() throws {
        do {
            try reportingErrors { try options.run(quick ? .paperQuick : .paper) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}

struct StudyConvexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convex",
        abstract: "Check Stich's local-SGD claims on logistic regression: loss vs K and vs communication rounds.",
        discussion: """
        Logistic regression on Fashion-MNIST, plain SGD (no momentum, no weight decay, constant \
        linearly scaled learning rate), 3 epochs, minibatch SGD at K ∈ {1,…,64} and local SGD at \
        K ∈ {2,…,64}, H ∈ {2,8,32}. The report plots loss at equal gradient evaluations vs K and loss \
        vs communication rounds.
        """)

    @OptionGroup var options: PresetOptions

    func run() throws {
        do {
            try reportingErrors { try options.run(.convex) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}

struct StudyQuickstartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "The trade-off in a few minutes: one epoch each of minibatch, local, post-local SGD and SlowMo, then a table and the report.",
        discussion: """
        The cnn on Fashion-MNIST for one epoch (default recipe: B=32, lr 0.1 scaled by K·B/256): \
        minibatch SGD at K=1 and K=8, local SGD at K=8 with H=4 and H=16, post-local SGD at K=8, \
        H=16 switching after half the epoch, SlowMo at K=8, H=16 (α=1, β=0.5). Every run records \
        the time it would take on a 1gbit:100us network with one worker per machine. Prints a \
        table (test accuracy, syncs, bytes sent per worker, measured and modelled seconds) and \
        writes OUT/report.html; re-running resumes. A few minutes on two cores.
        """)

    @OptionGroup var options: PresetOptions

    func run() throws {
        do {
            try reportingErrors { try options.run(.quickstart, table: true) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}

struct StudyDiLoCoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diloco",
        abstract: "DiLoCo on a character-level language model: outer Nesterov against plain averaging and minibatch AdamW.",
        discussion: """
        gpt-mini on the fortunes corpus (--dataset text, 64-character windows, B=8, 2 epochs, AdamW \
        3e-3 with weight decay 0.1 and gradient clipping at 1, per-epoch cosine), K ∈ {4,8}: DiLoCo \
        with H ∈ {10,50,200} inner steps and the paper's outer Nesterov (η=0.7, μ=0.9) or outer SGD at \
        rate 1 (plain averaging, FedAvg), and minibatch AdamW with the same global batch; 3 seeds, a \
        1gbit:100us network modelled. The report plots held-out loss against iterations and against \
        megabytes sent. About an hour on two cores. --quick: gpt-micro, 1 seed, about ten minutes.
        """)

    @Flag(help: "The quick version (gpt-micro, one seed).") var quick = false
    @OptionGroup var options: PresetOptions

    func run() throws {
        do {
            try reportingErrors { try options.run(quick ? .dilocoQuick : .diloco) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}

struct StudyCompressionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compression",
        abstract: "Compressed communication: accuracy against bytes sent for fp32, fp16, int8 and top-k with and without error feedback.",
        discussion: """
        The cnn on Fashion-MNIST, K = 16, 2 epochs (the default recipe: warm-up over the first, \
        cosine over the second): minibatch SGD (gradients compressed) and local SGD with H = 4 and \
        16 (weight deltas compressed), each with --compress none, fp16, int8 and topk (1 % kept), \
        and top-k with --error-feedback; 3 seeds, a 1gbit:100us network modelled. The report plots \
        accuracy against megabytes sent, synchronizations and modelled time, one line per codec. \
        About an hour and a half on two cores. --quick: one epoch, one seed, about ten minutes.
        """)

    @Flag(help: "The quick version (one epoch, one seed).") var quick = false
    @OptionGroup var options: PresetOptions

    func run() throws {
        do {
            try reportingErrors { try options.run(quick ? .compressionQuick : .compression) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}

struct StudySchedulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "When to synchronize: constant H against the Quadratic Synchronization Rule and Streaming DiLoCo's fragments.",
        discussion: """
        The cnn on Fashion-MNIST, K = 16, 4 epochs at η = 0.1 without warm-up, then the per-epoch \
        half-cosine: local SGD with constant H ∈ {2, 4, 8, 16}; QSR from H_base = 2 with \
        α ∈ {0.1, 0.2} (H = max(2, ⌊(α/η)²⌋) grows as η falls from epoch to epoch); Streaming \
        DiLoCo over plain averaging at H = 16 with 4 fragments, with and without 2 steps of overlap \
        (the bytes of local SGD at H = 16, a lower peak); 3 seeds, a 1gbit:100us network modelled. \
        The report plots accuracy against megabytes sent, synchronizations and modelled time. \
        About two hours on two cores. --quick: 2 epochs, one seed, about ten minutes.
        """)

    @Flag(help: "The quick version (2 epochs, one seed).") var quick = false
    @OptionGroup var options: PresetOptions

    func run() throws {
        do {
            try reportingErrors { try options.run(quick ? .schedulesQuick : .schedules) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}

struct StudyFaultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "What a lost worker or a straggler costs minibatch, local and asynchronous local SGD, in accuracy and modelled time.",
        discussion: """
        K=16 on Fashion-MNIST with the cnn (4 epochs, the paper preset's recipe): minibatch SGD, \
        local SGD with H ∈ {4,16} and asynchronous local SGD (sequentialised, 16 nodes, H=4), each \
        fault-free, with worker 15 leaving for good at 30 % of the iterations (--faults; not async), \
        and with worker 15 at half speed (--worker-speeds; local SGD also with --dynamic-local-steps, \
        DyLU), modelled on a 1gbit:100us network with \
        10 ms of compute per worker-iteration (--modelled-compute); 3 \
        seeds. The report compares each algorithm's accuracy and modelled time with its fault-free \
        run. Over an hour on two cores. --quick: the mlp, 2 epochs, 1 seed.
        """)

    @Flag(help: "The quick version (mlp, 2 epochs, one seed).") var quick = false
    @OptionGroup var options: PresetOptions

    func run() throws {
        do {
            try reportingErrors { try options.run(quick ? .faultsQuick : .faults) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}

/// A comma-separated list of positive integers for `study timing`.
struct PositiveList: ExpressibleByArgument {
    var values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        values = parts.map { $0! }
    }

    /// `1,2,4` in `--help`, the form the option takes.
    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
}

struct StudyTimingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timing",
        abstract: "Modelled time per iteration, communication share and speedup vs K and H (Figs. 1–3), without training.",
        discussion: """
        t(K,H) = compute + allreduce(parameters × bytes, K)/H on the --network model (ring all-reduce, \
        α–β; nodes-of=W adds a faster intra-node level). Speedup is K·t(1,1)/t(K,H); normalised speedup \
        t(K,1)/t(K,H). Example, ResNet-50 on the study's platform: \
        localsgd study timing --params 25.6M --compute-ms 180 --network 10gbit:50us,nodes-of=8,intra=nvlink
        """)

    @Option(help: "Model parameters, e.g. 25.6M, 270k or 421642 (at most 10^12).") var params: String
    @Option(help: "Milliseconds of one worker's forward, backward and optimizer step (0 to 10^7).") var computeMs: Double
    @Option(help: "Network model, e.g. 10gbit:50us or 10gbit:50us,nodes-of=8,intra=nvlink.") var network = "10gbit:50us"
    @Option(help: "Workers K (comma-separated, each 1 to 10^6).") var workers = PositiveList(argument: "1,2,4,8,16,32,64,128,256")!
    @Option(help: "Local steps H (comma-separated, each 1 to 10^6).") var localSteps = PositiveList(argument: "1,2,4,8,16,32")!
    @Option(help: "Bytes per parameter sent, 1 to 16 (4 for float32).") var bytesPerParam = 4
    @Flag(help: "Print CSV instead of a table.") var csv = false
    @Option(help: "Directory for timing.csv and timing.svg.") var out: String?

    func run() throws {
        do {
            try reportingErrors {
                guard let count = TimingTable.parseCount(params) else {
                    throw ValidationError("--params takes a positive count up to 10^12 such as 25.6M, 270k or 421642, got '\(params)'")
                }
                guard computeMs >= 0, computeMs <= 1e7 else { throw ValidationError("--compute-ms must be between 0 and 10^7, got \(computeMs)") }
                guard (1...16).contains(bytesPerParam) else { throw ValidationError("--bytes-per-param must be between 1 and 16, got \(bytesPerParam)") }
                for (flag, list) in [("--workers", workers.values), ("--local-steps", localSteps.values)] where list.contains(where: { $0 > 1_000_000 }) {
                    throw ValidationError("\(flag) takes values between 1 and 10^6, got \(list.max()!)")
                }
                let model: NetworkModel
                do { model = try NetworkModel(parsing: network) } catch let e as CommError { throw ValidationError("--network: \(e.description)") }
                let table = TimingTable(parameters: count, bytesPerParameter: bytesPerParam, computeSeconds: computeMs / 1e3,
                                        network: model, workers: workers.values, localSteps: localSteps.values)
                print(csv ? table.csv : "\(count) parameters × \(bytesPerParam) bytes, \(computeMs) ms compute, network \(model)\n" + table.text, terminator: "")
                if let out {
                    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                    try AtomicFile.write(Data(table.csv.utf8), to: out + "/timing.csv")
                    try AtomicFile.write(Data(table.svg.utf8), to: out + "/timing.svg")
                    Console.status("wrote \(out)/timing.csv and \(out)/timing.svg")
                }
            }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}
