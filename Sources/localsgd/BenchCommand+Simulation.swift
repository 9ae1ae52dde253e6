import ArgumentParser
import Experiments
import Foundation
import NN
import Tensor

/// `localsgd bench --simulation`: the in-process simulator's throughput at K workers against one.
extension BenchCommand {
    /// One row per model × batch × threads × K, K = 1 first: each configuration runs in a child
    /// process of this executable (`--simulation-child`), so that its peak RSS is its own.
    func benchSimulation(_ kinds: [ModelKind]) throws {
        let s = try simulationSettings(kinds)
        // Every configuration before the first runs: a bad one is an error now, not after minutes.
        for setting in s { try SimulationBenchmark.check(setting) }
        if simulationChild {
            var row = try SimulationBenchmark.measure(s.first!)
            row.peakRSSBytes = ProcessMemory.peakResidentBytes()
            print(String(decoding: try JSONEncoder().encode(row), as: UTF8.self))
            return
        }
        if !json {
            let convolutions: String = convBackend == .onednn ? "onednn (\(ConvBackend.onednnKernels))" : convBackend.rawValue
            print("K workers of local SGD (H = \(localSteps)) simulated in one process by the trainer of `localsgd train` "
                  + "on synthetic 1×28×28 images: \(iterations) timed iterations after \(s[0].warmup) warm-up; "
                  + "each configuration in its own child process, peak RSS its VmHWM; OpenBLAS \(BLAS.coreName) kernels; "
                  + "convolutions: " + convolutions)
            print("model     batch thr      K  samples/s   of K=1  ms/worker-step  peak RSS  load")
        }
        var reference: Double?
        for setting in s {
            var row = try runChild(setting)
            if setting.workers == 1 { reference = row.samplesPerS }
            row.ofOneWorker = reference.map { row.samplesPerS / $0 }
            row.loadAverage = loadAverage()
            if json {
                let e = JSONEncoder()
                e.outputFormatting = .sortedKeys
                print(String(decoding: try e.encode(row), as: UTF8.self))
            } else {
                print(row.model.padding(toLength: 9, withPad: " ", startingAt: 0)
                      + String(format: " %5d %3d %6d %10.1f %7.1f%% %15.3f %6.0f MB", row.batch, row.threads, row.workers,
                               row.samplesPerS, (row.ofOneWorker ?? 0) * 100, row.msPerWorkerStep,
                               Double(row.peakRSSBytes ?? 0) / 1e6)
                      + (row.loadAverage.map { String(format: "  %.2f", $0) } ?? "  -"))
            }
            fflush(stdout)
        }
    }

    /// The configurations in order: per model, batch and thread count, K = 1 then the other Ks.
    private func simulationSettings(_ kinds: [ModelKind]) throws -> [SimulationBenchmark.Setting] {
        if averaging { throw ValidationError("give --averaging or --simulation, not both") }
        if comparePytorch != nil || layers || cpuTime || peakGflops != nil {
            throw ValidationError("--simulation times whole iterations in wall-clock time; --compare-pytorch, --layers, --cpu-time and --peak-gflops time single steps without it")
        }
        let ks = try numbers(workers ?? "1,16,64,256", "--workers", 1...1024)
        let batchList = try numbers(batches ?? "32", "--batches", 1...4096)
        let threadList = try numbers(threads ?? String(ProcessInfo.processInfo.activeProcessorCount), "--threads", 1...256)
        guard (1...1_000_000).contains(localSteps) else {
            throw ValidationError("--local-steps must be between 1 and 10^6, got \(localSteps)")
        }
        guard (1...1000).contains(iterations) else {
            throw ValidationError("--iterations must be between 1 and 1000, got \(iterations)")
        }
        let warmupIterations = warmup ?? min(localSteps, 1000)
        guard (0...1000).contains(warmupIterations) else {
            throw ValidationError("--warmup with --simulation must be between 0 and 1000 iterations, got \(warmupIterations)")
        }
        // The child measures the one K it is given; the parent measures K = 1 first, the reference.
        let order = simulationChild ? ks : [1] + ks.filter { $0 != 1 }
        return kinds.flatMap { kind in batchList.flatMap { b in threadList.flatMap { t in order.map { k in
            var s = SimulationBenchmark.Setting(model: kind, workers: k, threads: t, iterations: iterations, warmup: warmupIterations)
            s.batch = b
            s.localSteps = localSteps
            s.shortcut = shortcut
            s.convBackend = convBackend
            return s
        } } } }
    }

    /// Runs `s` in a child `localsgd bench --simulation --simulation-child` and reads its row;
    /// its stderr is ours, so its errors show.
    private func runChild(_ s: SimulationBenchmark.Setting) throws -> SimulationBenchmark.Row {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: SweepCommand.executablePath())
        p.arguments = ["bench", "--simulation", "--simulation-child", "--models", s.model.rawValue, "--workers", "\(s.workers)",
                       "--batches", "\(s.batch)", "--threads", "\(s.threads)", "--local-steps", "\(s.localSteps)",
                       "--iterations", "\(s.iterations)", "--warmup", "\(s.warmup)", "--shortcut", s.shortcut.rawValue,
                       "--conv-backend", s.convBackend.rawValue]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch {
            throw ValidationError("--simulation: cannot start \(p.executableURL!.path): \(error.localizedDescription)")
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let what = "the simulation of \(s.workers) \(s.model.rawValue) worker(s) at batch \(s.batch) on \(s.threads) thread(s)"
        guard p.terminationReason == .exit, p.terminationStatus == 0 else {
            let how = p.terminationReason == .exit ? "exited with status \(p.terminationStatus)" : "was killed by signal \(p.terminationStatus)"
            throw ValidationError("\(what) \(how) (see its error above; a kill may mean it ran out of memory)")
        }
        let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard let row = try? JSONDecoder().decode(SimulationBenchmark.Row.self, from: Data(line.utf8)) else {
            throw ValidationError("\(what) printed no result line (got '\(line.prefix(200))')")
        }
        return row
    }
}
