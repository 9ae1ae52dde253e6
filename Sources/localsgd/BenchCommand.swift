import ArgumentParser
import Experiments
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Launch
import NN
import Tensor

/// `localsgd bench`: training-step speed of our models beside OpenBLAS's sgemm in the same run,
/// and, with `--compare-pytorch`, beside PyTorch's step in alternating rounds.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps (ms/step, samples/s, GFLOP/s) of our models beside cblas_sgemm.",
        discussion: """
            Same work and JSON keys as Benchmarks/pytorch_bench.py, which times PyTorch alone with our models \
            written in PyTorch (Benchmarks/pytorch_models.py). With --compare-pytorch PYTHON, each \
            configuration alternates --rounds rounds of our steps and PyTorch's (run by Benchmarks/pytorch_peer.py \
            in a second process) so that both see the same machine load; medians are over all rounds. ResNets use \
            projection shortcuts by default; the PyTorch peer builds the same shortcut as --shortcut. GPTs read random \
            sequences of 64 token ids of a 65-character vocabulary (nanoGPT's shakespeare_char), one label per token. \
            --averaging and --simulation time the in-process simulator of K workers instead: its average of K \
            replicas, and K workers of local SGD training as `localsgd train` runs them (samples/s against K = 1 \
            in the same run, and each configuration's peak RSS).
            """)

    @Option(help: "Models, comma-separated.") var models = "mlp,cnn,resnet20"
    @Option(help: "Batch sizes, comma-separated, each 1 to 4096 (default: 32,128; with --simulation: 32, per worker).")
    var batches: String?
    @Option(help: "Thread counts, comma-separated, each 1 to 256 (default: 1,2; with --simulation: the cores).")
    var threads: String?
    @Option(help: "Timed steps per configuration (median reported), 1 to 10^6.") var steps = 30
    @Option(help: "Untimed warm-up steps, 0 to 10^6 (default: 5; with --simulation: iterations, 0 to 1000, default --local-steps).")
    var warmup: Int?
    @Option(help: "Shortcut of CIFAR ResNets: projection or zero-pad (the PyTorch peer follows).") var shortcut = ShortcutKind.b
    @Option(help: "Who uses the threads: layers (our kernels, each calling OpenBLAS on one thread) or blas (OpenBLAS alone).")
    var parallelism = StepRunner.Parallelism.layers
    @Option(help: "Kernels of the convolutions: onednn (oneDNN for the 3×3 convolutions with at least 16 input channels, Winograd kernels at stride 1 where they pay, oneDNN's on AVX-512 and ours on AVX2, off with LOCALSGD_ONEDNN_WINOGRAD=0; our direct kernels for 3×3 stride-1 padding-1 convolutions of at most 4 input channels, a first layer, on AVX2; ours for the rest) or blas (ours alone: im2col + OpenBLAS sgemm).")
    var convBackend = ConvBackend.default
    @Option(help: "Python with torch: time PyTorch's step alternately with ours.") var comparePytorch: String?
    @Option(help: "The step server run by --compare-pytorch.") var peerScript = "Benchmarks/pytorch_peer.py"
    @Option(help: "Seconds the PyTorch peer may take to answer one request (its warm-up and timed steps of one round), 1 to 86400; past it the peer is stopped and bench fails.")
    var peerTimeout = 600.0
    @Option(help: "Python file whose MODELS dict the peer builds its models from (ours in PyTorch by default).")
    var reference = "Benchmarks/pytorch_models.py"
    @Option(help: "Rounds per configuration (1 to 1000), each timing sgemm, our steps and (with --compare-pytorch) PyTorch's in turn.")
    var rounds = 5
    @Option(help: "FP32 FMA peak of one core in GFLOP/s (Benchmarks/fma_peak.c) for the % of peak column.")
    var peakGflops: Double?
    @Flag(help: "Report CPU time per step (ours: the process's; PyTorch's: time.process_time) instead of wall time.")
    var cpuTime = false
    @Flag(help: "Also time every convolution and linear layer (and a GPT's attention, LayerNorm, GELU and head) on its own (forward + backward).")
    var layers = false
    @Flag(help: "One JSON object per configuration instead of a table.") var json = false
    @Flag(help: """
        Time the in-process average of K replicas (local SGD's all-reduce) instead of training steps, \
        against a copy of the same bytes in the same run (memory bandwidth); uses --workers, --parameters, \
        --threads, --rounds.
        """)
    var averaging = false
    @Flag(help: """
        Time K workers of local SGD simulated in one process (the trainer of `localsgd train`, synthetic 1×28×28 \
        data): samples/s of all workers, its share of K = 1's (always measured first), ms per worker-step and peak \
        RSS, each configuration in a child process of its own; uses --models, --workers, --batches, --threads, \
        --local-steps, --iterations, --warmup.
        """)
    var simulation = false
    @Option(help: "With --simulation: local SGD's H, 1 to 10^6.") var localSteps = 4
    @Option(help: "With --simulation: timed iterations per configuration (each a step of every worker), 1 to 1000.")
    var iterations = 8
    /// The child process of one `--simulation` configuration: measure it here and print one JSON line.
    @Flag(help: .hidden) var simulationChild = false
    @Option(help: "Worker counts K, comma-separated: with --averaging each 2 to 1024 (default: 2,8,64), with --simulation each 1 to 1024 (default: 1,16,64,256).")
    var workers: String?
    @Option(help: "With --averaging: floats per replica, comma-separated, each 1 to 10^9 (270000: resnet20; 25600000: ResNet-50).")
    var parameters = "270000,25600000"

    func run() throws {
        do {
            try reportingErrors {
                let kinds = try models.split(separator: ",").map { name -> ModelKind in
                    guard let k = ModelKind(rawValue: String(name)) else {
                        throw ValidationError("unknown model '\(name)'; choose from \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return k
                }
                if simulation {
                    try benchSimulation(kinds)
                    return
                }
                let batchList = try numbers(batches ?? "32,128", "--batches", 1...4096)
                let threadList = try numbers(threads ?? "1,2", "--threads", 1...256)
                guard (1...1_000_000).contains(steps), (0...1_000_000).contains(warmupSteps), (1...1000).contains(rounds) else {
                    throw ValidationError("--steps must be between 1 and 10^6, --warmup between 0 and 10^6 and --rounds between 1 and 1000")
                }
                if let peak = peakGflops, !(peak > 0 && peak <= 1e6) {
                    throw ValidationError("--peak-gflops must be greater than 0 and at most 10^6, got \(peak)")
                }
                guard peerTimeout >= 1 && peerTimeout <= 86400 else {
                    throw ValidationError("--peer-timeout must be 1 to 86400 seconds, got \(String(format: "%g", peerTimeout))")
                }
                if averaging {
                    try benchAveraging(threads: threadList)
                    return
                }
                let peer = try comparePytorch.map {
                    try PyTorchPeer(python: $0, script: peerScript, reference: reference, timeout: peerTimeout)
                }
                defer { peer?.stop() }
                if !json {
                    print("times per step: " + (cpuTime ? "process CPU time" : "wall-clock") + ", median over \(rounds) round(s); "
                          + "OpenBLAS \(BLAS.coreName) kernels; convolutions: \(convBackend.rawValue)"
                          + (convBackend == .onednn ? " (\(ConvBackend.onednnKernels))" : ""))
                    print(BenchRow.header(peer: peer != nil, layers: layers))
                }
                for kind in kinds { for b in batchList { for t in threadList {
                    let row = try measure(kind, batch: b, threads: t, peer: peer)
                    print(json ? try row.json() : row.line(peer: peer != nil, layers: layers))
                    fflush(stdout)
                } } }
            }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }

    /// One configuration: sgemm, then `rounds` rounds alternating ours and the peer's steps.
    private func measure(_ kind: ModelKind, batch: Int, threads t: Int, peer: PyTorchPeer?) throws -> BenchRow {
        let load = loadAverage()
        var sgemm: [Double] = []
        let clock: BenchClock = cpuTime ? .processCPU : .wall
        let sequence = kind.isLanguageModel ? Self.sequence : nil
        let runner = try StepRunner(model: kind, shortcut: shortcut, batch: batch, threads: t, parallelism: parallelism,
                                    size: sequence?.context ?? 28, classes: sequence?.vocabulary ?? 10,
                                    convBackend: convBackend)
        _ = runner.run(steps: warmupSteps)
        let perRound = max(1, (steps + rounds - 1) / rounds)
        var ours: [Double] = [], theirs: [Double] = []
        for round in 0..<rounds {
            sgemm.append(StepBenchmark.sgemm(threads: t, repeats: 3, clock: clock))
            ours += runner.run(steps: perRound, clock: clock)
            if let peer {
                theirs += try peer.steps(model: kind.rawValue, shortcut: shortcut, sequence: sequence, batch: batch,
                                         threads: t, steps: perRound, warmup: round == 0 ? max(warmupSteps, 10) : 0, cpuTime: cpuTime)
            }
        }
        let median = StepRunner.median(ours)
        let layerTimings = layers ? runner.layerTimings(repeats: max(5, steps / 3), clock: clock) : []
        return BenchRow(
            model: kind.rawValue, convBackend: convBackend.rawValue, usesWinograd: runner.network.usesWinograd(batches: [batch]),
            batch: batch, threads: t, msPerStep: median * 1e3,
            samplesPerS: Double(batch) / median, gflops: runner.flopsPerStep / median / 1e9,
            sgemmGflops: StepRunner.median(sgemm),
            pytorchMsPerStep: theirs.isEmpty ? nil : StepRunner.median(theirs) * 1e3,
            layerTimings: layerTimings,
            peakGflops: peakGflops.map { $0 * Double(t) }, loadAverage: load)
    }

    /// What GPTs read: sequences of 64 characters of a 65-character vocabulary (nanoGPT's shakespeare_char).
    static let sequence = PyTorchPeer.Tokens(context: 64, vocabulary: 65)

    private var warmupSteps: Int { warmup ?? 5 }

    func numbers(_ text: String, _ flag: String, _ range: ClosedRange<Int>) throws -> [Int] {
        let values = text.split(separator: ",").compactMap { Int($0) }
        guard !values.isEmpty, values.count == text.split(separator: ",").count, values.allSatisfy(range.contains) else {
            throw ValidationError("\(flag) takes integers between \(range.lowerBound) and \(range.upperBound) separated by commas, got '\(text)'")
        }
        return values
    }

    /// `--averaging`: one row per size × K × threads.
    private func benchAveraging(threads threadList: [Int]) throws {
        let sizes = try numbers(parameters, "--parameters", 1...1_000_000_000), ks = try numbers(workers ?? "2,8,64", "--workers", 1...1024)
        guard ks.allSatisfy({ $0 >= 2 }) else {
            throw ValidationError("--workers for --averaging must be at least 2 (one replica has nothing to average), got '\(workers ?? "")'")
        }
        let largest = sizes.max()! * ks.max()! * 4 * 2
        if largest > 16 << 30 {
            throw ValidationError("--averaging with \(ks.max()!) workers of \(sizes.max()!) floats needs \(largest >> 30) GiB (replicas and copy targets); choose fewer workers or parameters")
        }
        if !json {
            print("in-process average (allReduceMean) vs copying the same bytes, median over \(rounds) round(s)")
            print("  params     K  thr   avg ms  copy ms  avg GB/s  copy GB/s  of bandwidth")
        }
        for n in sizes { for k in ks { for t in threadList {
            let row = try AveragingBenchmark.measure(parameters: n, workers: k, threads: t, repeats: rounds)
            if json {
                print(String(decoding: try JSONEncoder().encode(row), as: UTF8.self))
            } else {
                print(String(format: "%8d  %4d  %3d  %7.3f  %7.3f  %8.1f  %9.1f  %11.0f%%", n, k, t,
                             row.averageSeconds * 1e3, row.copySeconds * 1e3, row.averageGBPerSecond,
                             row.copyGBPerSecond, row.ofBandwidth * 100))
            }
            fflush(stdout)
        } } }
    }

    /// The 1-minute load average (other processes on the shared machine), or nil.
    func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }
}

extension StepRunner.Parallelism: ExpressibleByArgument {}

/// One line of the bench table, or one JSON object (Benchmarks/pytorch_bench.py's keys plus ours).
struct BenchRow: Encodable {
    var model: String
    /// The kernels of the convolutions (`--conv-backend`).
    var convBackend: String
    /// The instruction set of oneDNN's convolution kernels, with `onednn` and a model with convolutions.
    var onednnISA: String? {
        convBackend == ConvBackend.onednn.rawValue && ModelKind(rawValue: model)?.hasConvolutions == true
            ? ConvBackend.onednnInstructionSet : nil
    }
    /// Whether one of those convolutions runs oneDNN's Winograd kernels at this batch (with
    /// `onednnISA`; the same meaning as a run's `derived.onednn_winograd`).
    var usesWinograd = false
    var onednnWinograd: Bool? { onednnISA == nil ? nil : usesWinograd }
    var batch: Int
    var threads: Int
    var msPerStep: Double
    var samplesPerS: Double
    /// 3 × forward FLOPs per step / step time.
    var gflops: Double
    var sgemmGflops: Double
    var pytorchMsPerStep: Double?
    /// Convolution and linear layers timed on their own (with `--layers`).
    var layerTimings: [LayerTiming]
    /// FMA peak of the cores used.
    var peakGflops: Double?
    var loadAverage: Double?
    var speedup: Double? { pytorchMsPerStep.map { $0 / msPerStep } }
    /// FLOPs of the timed layers / their time.
    var layersGflops: Double? {
        layerTimings.isEmpty ? nil : layerTimings.map(\.flops).reduce(0, +) / layerTimings.map(\.seconds).reduce(0, +) / 1e9
    }

    enum CodingKeys: String, CodingKey {
        case model, convBackend = "conv_backend", onednnISA = "onednn_isa", onednnWinograd = "onednn_winograd", batch, threads, msPerStep = "ms_per_step", samplesPerS = "samples_per_s", gflops
        case sgemmGflops = "sgemm_gflops", pytorchMsPerStep = "pytorch_ms_per_step", speedup
        case layersGflops = "layers_gflops", layerTimings = "layer_timings", peakGflops = "peak_gflops", loadAverage = "load_average"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(convBackend, forKey: .convBackend)
        try c.encodeIfPresent(onednnISA, forKey: .onednnISA)
        try c.encodeIfPresent(onednnWinograd, forKey: .onednnWinograd)
        try c.encode(batch, forKey: .batch)
        try c.encode(threads, forKey: .threads)
        try c.encode(msPerStep, forKey: .msPerStep)
        try c.encode(samplesPerS, forKey: .samplesPerS)
        try c.encode(gflops, forKey: .gflops)
        try c.encode(sgemmGflops, forKey: .sgemmGflops)
        try c.encodeIfPresent(pytorchMsPerStep, forKey: .pytorchMsPerStep)
        try c.encodeIfPresent(speedup, forKey: .speedup)
        try c.encodeIfPresent(layersGflops, forKey: .layersGflops)
        if !layerTimings.isEmpty { try c.encode(layerTimings, forKey: .layerTimings) }
        try c.encodeIfPresent(peakGflops, forKey: .peakGflops)
        try c.encodeIfPresent(loadAverage, forKey: .loadAverage)
    }

    func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    static func header(peer: Bool, layers: Bool) -> String {
        "model     batch thr  ms/step" + (peer ? "  torch ms  speedup" : "") + "  GFLOP/s  sgemm  %sgemm"
            + (layers ? "  layers GF/s  %sgemm" : "") + "  %peak  load"
    }

    func line(peer: Bool, layers: Bool) -> String {
        func opt(_ x: Double?, _ format: String, width: Int) -> String {
            x.map { String(format: format, $0) } ?? String(repeating: " ", count: width - 1) + "-"
        }
        var s = model.padding(toLength: 9, withPad: " ", startingAt: 0)
            + String(format: " %5d %3d %8.2f", batch, threads, msPerStep)
        if peer { s += opt(pytorchMsPerStep, "%10.2f", width: 10) + opt(speedup, "%8.2f×", width: 9) }
        s += String(format: "  %7.1f %6.1f %6.0f%%", gflops, sgemmGflops, 100 * gflops / sgemmGflops)
        if layers {
            s += opt(layersGflops, "%13.1f", width: 13) + opt(layersGflops.map { 100 * $0 / sgemmGflops }, "%7.0f%%", width: 8)
        }
        s += opt(peakGflops.map { 100 * gflops / $0 }, "%6.0f%%", width: 7) + opt(loadAverage, "%6.2f", width: 6)
        for l in layerTimings where layers {
            s += "\n    " + l.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(format: "%8.1f MFLOP %8.3f ms %7.1f GFLOP/s %5.0f%% of sgemm", l.flops / 1e6, l.seconds * 1e3,
                         l.gflops, 100 * l.gflops / sgemmGflops)
        }
        return s
    }
}

/// `Benchmarks/pytorch_peer.py` in a child process, answering one JSON request per line. The peer
/// runs in a process group of its own (`ChildProcess`), so that stopping it also stops what it
/// started (a wrapper script's Python); its stderr is passed on to ours.
final class PyTorchPeer {
    private let child: ChildProcess
    private let command: String
    /// Seconds one reply may take (`--peer-timeout`).
    private let timeout: Double
    /// Lines the peer wrote and nobody read yet, whether its output ended, and a signal per event.
    private let replies = Locked<(lines: [String], ended: Bool)>(([], false))
    private let arrived = DispatchSemaphore(value: 0)

    init(python: String, script: String, reference: String, timeout: Double) throws {
        command = python + " " + script
        self.timeout = timeout
        for (path, flag) in [(script, "--peer-script"), (reference, "--reference")]
        where !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("\(flag) \(path) does not exist (run from the repository root or give the path)")
        }
        let executable = PyTorchPeer.resolve(python)
        guard FileManager.default.isExecutableFile(atPath: executable),
              (try? FileManager.default.attributesOfItem(atPath: executable)[.type] as? FileAttributeType) != .typeDirectory else {
            throw ValidationError("--compare-pytorch: \(python) is not an executable file (give a Python with torch, a path or a name on PATH)")
        }
        let (replies, arrived) = (self.replies, self.arrived)
        do {
            child = try ChildProcess(executable, [script, "--reference", reference], input: true, onLine: { stream, line in
                if stream == .stderr {
                    // Passed on as it comes; a stderr that cannot be written (a full disk) loses it.
                    let bytes = Array((line + "\n").utf8)
                    _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
                    return
                }
                replies.update { $0.lines.append(line) }
                arrived.signal()
            }, onEnd: { stream in
                guard stream == .stdout else { return }
                replies.update { $0.ended = true }
                arrived.signal()
            })
        } catch {
            throw ValidationError("--compare-pytorch: cannot start \(python): \(error)")
        }
    }

    /// `name` as the shell would find it: a path as given, else the first match on PATH.
    private static func resolve(_ name: String) -> String {
        guard !name.contains("/") else { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &directory) && !directory.boolValue
                && FileManager.default.isExecutableFile(atPath: $0)
        } ?? name
    }

    /// A language model's input: token sequences of `context` ids below `vocabulary`.
    struct Tokens { var context: Int, vocabulary: Int }

    /// Seconds per step of `steps` PyTorch steps (after `warmup` untimed ones on first use); a
    /// GPT's request names its `sequence`.
    func steps(model: String, shortcut: ShortcutKind, sequence: Tokens?, batch: Int, threads: Int, steps: Int,
               warmup: Int, cpuTime: Bool) throws -> [Double] {
        let tokens = sequence.map { ", \"context\": \($0.context), \"vocabulary\": \($0.vocabulary)" } ?? ""
        let request = "{\"model\": \"\(model)\", \"shortcut\": \"\(shortcut.rawValue)\", \"batch\": \(batch), "
            + "\"threads\": \(threads), \"steps\": \(steps), \"warmup\": \(warmup)\(tokens)}\n"
        do { try child.writeInput(Data(request.utf8)) } catch { throw stopped(because: "stopped reading its requests") }
        let line = try nextLine()
        struct Reply: Decodable { var seconds: [Double], cpuSeconds: [Double]
            enum CodingKeys: String, CodingKey { case seconds, cpuSeconds = "cpu_seconds" } }
        guard let reply = try? JSONDecoder().decode(Reply.self, from: Data(line.utf8)),
              case let times = cpuTime ? reply.cpuSeconds : reply.seconds, times.count == steps,
              times.allSatisfy({ $0.isFinite && $0 >= 0 && $0 < 1e6 }) else {
            let shown = line.count > 120 ? String(line.prefix(120)) + "…" : line
            let printable = shown.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
            throw stopped(because: "answered '\(printable)' where \(steps) step time\(steps == 1 ? " was" : "s were") due "
                          + "(a line {\"seconds\": [...], \"cpu_seconds\": [...]} of non-negative seconds)")
        }
        return times
    }

    /// The peer's next line, within `timeout` seconds.
    private func nextLine() throws -> String {
        let deadline = DispatchTime.now() + timeout
        while true {
            var line: String?, ended = false
            replies.update {
                if !$0.lines.isEmpty { line = $0.lines.removeFirst() }
                ended = $0.ended
            }
            if let line { return line }
            if ended { throw stopped(because: "closed its output before answering") }
            if arrived.wait(timeout: deadline) == .timedOut {
                let seconds = timeout == timeout.rounded() ? String(Int(timeout)) : String(timeout)
                throw stopped(because: "gave no answer within \(seconds) s (--peer-timeout)")
            }
        }
    }

    /// Ends the peer and everything in its group (SIGTERM, SIGKILL after 5 s); the error naming
    /// what it did and how it ended ("its own error, if it gave one, is above").
    private func stopped(because what: String) -> ValidationError {
        // A peer that is exiting closes its output a moment before it ends.
        let before = child.waitForExit(within: 1)
        child.closeInput()
        finish(reaped: before != nil)
        let end = before ?? child.wait()
        child.finishReading(timeout: 1)  // its last words on stderr before our sentence
        let how = before == nil ? "it was stopped"
            : end.signal.map { "it was killed by signal \($0)" } ?? "it exited with status \(end.code)"
        return ValidationError("the PyTorch peer (\(command)) \(what); \(how) (its own error, if it gave one, is above)")
    }

    /// Closes the peer's input (it exits at the end of its requests); stops it and its group if
    /// it has not ended 5 s later.
    func stop() {
        guard !finished else { return }
        child.closeInput()
        finish(reaped: child.waitForExit(within: 5) != nil)
        child.wait()
        child.finishReading(timeout: 1)
    }

    /// Whether the peer has been stopped (`stopped` or `stop`).
    private var finished = false

    /// Ends what is left of the peer: a reaped peer's group id may already name another group,
    /// so then only the descendants it recorded (checked by start time); else SIGTERM to its
    /// group and SIGKILL after 5 s.
    private func finish(reaped: Bool) {
        finished = true
        if reaped { child.killLeftovers() } else { child.terminate(grace: 5) }
    }
}
