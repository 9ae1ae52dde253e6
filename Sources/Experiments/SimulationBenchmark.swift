import Algorithms
import Comm
import Config
import Data
import Foundation
import NN
import Training

/// The throughput of the in-process simulator (§3: K workers on one machine): K workers of local
/// SGD with H local steps, run by the product's `Trainer` on an `InProcessCommunicator` as
/// `localsgd train --dataset synthetic --algorithm local` runs them, timed over a few iterations
/// after a warm-up. Only the iterations are timed; the epoch ends between them (evaluation of the
/// averaged model on a one-batch test set) are not, as a run's training time leaves them out.
public enum SimulationBenchmark {
    /// One configuration.
    public struct Setting: Sendable {
        public var model: ModelKind
        public var shortcut: ShortcutKind = .b
        public var convBackend: ConvBackend = .default
        /// K.
        public var workers: Int
        /// Samples per worker and iteration.
        public var batch: Int = 32
        /// The trainer's threads (lanes stepping workers, or one worker's layers when K = 1).
        public var threads: Int
        /// H of local SGD.
        public var localSteps: Int = 4
        /// Timed iterations (each: every worker steps once; every H-th also averages).
        public var iterations: Int
        /// Untimed iterations before them.
        public var warmup: Int
        public var seed: UInt64 = 1

        public init(model: ModelKind, workers: Int, threads: Int, iterations: Int, warmup: Int) {
            self.model = model
            self.workers = workers
            self.threads = threads
            self.iterations = iterations
            self.warmup = warmup
        }
    }

    /// The synthetic dataset's default sample, 1×28×28 floats once normalized.
    static let sampleBytes = 28 * 28 * 4
    /// Training images held at once: the epoch is cut to fit this unless one iteration needs more.
    static let dataBudget = 64 << 20

    public struct Row: Codable, Equatable {
        public var model: String
        public var workers: Int
        public var batch: Int
        public var threads: Int
        public var localSteps: Int
        public var iterations: Int
        public var warmup: Int
        /// Floats of one replica.
        public var parameters: Int
        /// Samples of the synthetic training set (K × batch × iterations of one epoch).
        public var trainSamples: Int
        /// Wall seconds of the timed iterations.
        public var seconds: Double
        /// Samples of all K workers per wall second.
        public var samplesPerS: Double
        /// Wall milliseconds per worker-step: seconds / (iterations × K).
        public var msPerWorkerStep: Double
        /// samples/s over that of K = 1 in the same run (set by the caller that measured both).
        public var ofOneWorker: Double?
        /// Peak resident bytes of the process that ran this configuration alone (VmHWM).
        public var peakRSSBytes: Int?
        public var loadAverage: Double?

        enum CodingKeys: String, CodingKey {
            case model, workers, batch, threads, localSteps = "local_steps", iterations, warmup, parameters
            case trainSamples = "train_samples", seconds, samplesPerS = "samples_per_s", msPerWorkerStep = "ms_per_worker_step"
            case ofOneWorker = "of_one_worker", peakRSSBytes = "peak_rss_bytes", loadAverage = "load_average"
        }
    }

    /// Trains `s.warmup + s.iterations` iterations of K simulated workers and times the last
    /// `s.iterations`. Throws a `TrainingError` naming the setting for a model that cannot read
    /// images or a configuration that would not fit in this machine's memory.
    public static func measure(_ s: Setting) throws -> Row {
        let (parameters, stepsPerEpoch) = try check(s)
        let total = s.warmup + s.iterations, perIteration = s.workers * s.batch
        let config = try runConfig(s, epochs: total / stepsPerEpoch)
        let data = try loadDataset(.synthetic, directory: nil,
                                   synthetic: SyntheticConfig(trainCount: perIteration * stepsPerEpoch, testCount: s.batch,
                                                              seed: s.seed))
        let trainer = try Trainer(config: config, data: data,
                                  communicator: InProcessCommunicator(workers: s.workers, threads: s.threads))
        let clock = IterationClock(capacity: total + 1)
        trainer.progressInterval = 0
        trainer.onEvent = { event in
            switch event {
            case .started: clock.starts.append(now())
            case .progress: clock.ends.append(now())
            default: break
            }
        }
        trainer.afterProgress = { clock.starts.append(now()) }
        _ = try trainer.run()
        let seconds = (s.warmup..<total).reduce(0.0) { $0 + clock.ends[$1] - clock.starts[$1] }
        return Row(model: s.model.rawValue, workers: s.workers, batch: s.batch, threads: s.threads, localSteps: s.localSteps,
                   iterations: s.iterations, warmup: s.warmup, parameters: parameters, trainSamples: data.train.count,
                   seconds: seconds, samplesPerS: Double(perIteration * s.iterations) / seconds,
                   msPerWorkerStep: seconds / Double(s.iterations * s.workers) * 1e3)
    }

    /// Floats of one replica and iterations of one epoch, after checking that `s` can run here: an
    /// image model, and replicas and images that fit in this machine's memory.
    @discardableResult
    public static func check(_ s: Setting) throws -> (parameters: Int, stepsPerEpoch: Int) {
        guard !s.model.isLanguageModel else {
            throw TrainingError("--simulation trains on synthetic images; \(s.model.rawValue) reads text, choose an image model")
        }
        let total = s.warmup + s.iterations, perIteration = s.workers * s.batch
        // The longest epoch that divides the run and fits the data budget: epoch ends stay out of the timing.
        let stepsPerEpoch = (1...total).last { total % $0 == 0 && perIteration * $0 * sampleBytes <= dataBudget } ?? 1
        let parameters = try Network(ModelSpec(kind: s.model, shortcut: s.shortcut, channels: 1, height: 28, width: 28,
                                               classes: 10, convBackend: s.convBackend)).layout.count
        try checkMemory(s, parameters: parameters, samples: perIteration * stepsPerEpoch)
        return (parameters, stepsPerEpoch)
    }

    /// `localsgd train --dataset synthetic --algorithm local --workers K --local-steps H` with
    /// the learning rate unscaled (0.1 at any K), so that no K diverges in these few iterations.
    static func runConfig(_ s: Setting, epochs: Int) throws -> RunConfig {
        var c = RunConfig()
        c.data.dataset = .synthetic
        c.model.kind = s.model
        c.model.shortcut = s.shortcut
        c.schedule.epochs = epochs
        c.schedule.batchSize = s.batch
        c.schedule.scaleLr = false
        c.algorithm.kind = .local
        c.algorithm.workers = s.workers
        c.algorithm.localSteps = s.localSteps
        c.execution.threads = s.threads
        c.execution.convBackend = s.convBackend
        c.execution.seed = s.seed
        try c.validate()
        return c
    }

    /// Replicas (weights, gradients, momentum) and training images against the machine's memory.
    static func checkMemory(_ s: Setting, parameters: Int, samples: Int) throws {
        let replicas = Double(s.workers) * Double(parameters) * 4 * 3, images = Double(samples) * Double(sampleBytes)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard replicas + images > available else { return }
        func gib(_ x: Double) -> String { String(format: "%.1f GiB", x / Double(1 << 30)) }
        throw TrainingError("--simulation with \(s.workers) \(s.model.rawValue) workers at batch \(s.batch) needs about "
            + "\(gib(replicas)) for the replicas and \(gib(images)) for one iteration's images, more than this machine's "
            + "\(gib(available)); choose fewer workers or a smaller batch")
    }

    /// Start and end of every iteration, appended by the trainer's callbacks.
    private final class IterationClock {
        var starts: [Double] = [], ends: [Double] = []
        init(capacity: Int) {
            starts.reserveCapacity(capacity)
            ends.reserveCapacity(capacity)
        }
    }
}

/// The peak resident memory of this process.
public enum ProcessMemory {
    /// VmHWM of /proc/self/status on Linux, else getrusage's ru_maxrss; nil if neither answers.
    public static func peakResidentBytes() -> Int? {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kB = line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap({ Int($0) }) {
            return kB * 1024
        }
        var usage = rusage()
        #if os(Linux)
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return nil }
        return usage.ru_maxrss * 1024
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return nil }
        return usage.ru_maxrss
        #endif
    }
}
