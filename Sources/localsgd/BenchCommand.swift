import ArgumentParser
import Experiments
import Foundation
import NN

/// `localsgd bench`: training-step speed of our models beside OpenBLAS's sgemm in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps (ms/step, samples/s, GFLOP/s) of mlp, cnn and resnet20 beside cblas_sgemm.",
        discussion: "Same work and JSON keys as ../shared/peers/pytorch_bench.py, so the two can be compared line by line.")

    @Option(help: "Models, comma-separated.") var models = "mlp,cnn,resnet20"
    @Option(help: "Batch sizes, comma-separated.") var batches = "32,128"
    @Option(help: "Thread counts, comma-separated.") var threads = "1,2"
    @Option(help: "Timed steps per configuration (median reported).") var steps = 30
    @Option(help: "Untimed warm-up steps.") var warmup = 5
    @Flag(help: "One JSON object per configuration instead of a table.") var json = false

    func run() throws {
        do {
            try reportingErrors {
                let kinds = try models.split(separator: ",").map { name -> ModelKind in
                    guard let k = ModelKind(rawValue: String(name)) else {
                        throw ValidationError("unknown model '\(name)'; choose from \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return k
                }
                let batchList = try numbers(batches, "--batches"), threadList = try numbers(threads, "--threads")
                guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be at least 1 and --warmup not negative") }
                var sgemm: [Int: Double] = [:]
                for t in threadList { sgemm[t] = StepBenchmark.sgemm(threads: t) }
                if !json {
                    print("sgemm 512³: " + threadList.map { "\($0) thread(s) \(String(format: "%.1f", sgemm[$0]!)) GFLOP/s" }.joined(separator: ", "))
                    print("model      batch threads  ms/step  samples/s  GFLOP/s  % of sgemm")
                }
                for kind in kinds { for b in batchList { for t in threadList {
                    var r = try StepBenchmark.measure(model: kind, batch: b, threads: t, warmup: warmup, steps: steps)
                    r.sgemmGflops = sgemm[t]
                    if json {
                        let e = JSONEncoder()
                        e.outputFormatting = .sortedKeys
                        print(String(decoding: try e.encode(r), as: UTF8.self))
                    } else {
                        print(String(format: "%-10@ %5d %7d %8.2f %10.0f %8.1f %9.0f%%", r.model as NSString, b, t,
                                     r.msPerStep, r.samplesPerS, r.gflops, 100 * r.gflops / sgemm[t]!))
                    }
                } } }
            }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }

    private func numbers(_ text: String, _ flag: String) throws -> [Int] {
        let values = text.split(separator: ",").compactMap { Int($0) }
        guard !values.isEmpty, values.count == text.split(separator: ",").count, values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("\(flag) takes positive integers separated by commas, got '\(text)'")
        }
        return values
    }
}
