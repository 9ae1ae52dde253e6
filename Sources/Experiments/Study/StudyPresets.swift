import Foundation

/// The sweeps of `localsgd study`: the trade-off study's experiments scaled to Fashion-MNIST
/// (`paper`, `paper --quick`), the convex check of Stich's analysis (`convex`), and the
/// trade-off in a few minutes (`quickstart`).
public enum StudyPreset: String, CaseIterable, Sendable {
    case paperQuick = "paper-quick"
    case paper
    case convex
    case quickstart
    case diloco
    case dilocoQuick = "diloco-quick"
    case compression
    case compressionQuick = "compression-quick"
    case schedules
    case schedulesQuick = "schedules-quick"
    case faults
    case faultsQuick = "faults-quick"

    /// The study's inter-node link (§A.4: 10 Gb/s Ethernet), flat: every all-reduce crosses it, as the
    /// study measured for K > 8 (the two-level model's hierarchical all-reduce would send far less).
    public static let paperNetwork = "10gbit:50us"

    /// A slower link than the study's, so that one epoch of the small cnn shows what
    /// communicating every step costs: its 1.7 MB all-reduce takes 25 ms at K = 8, longer than
    /// one worker's step at B = 32 on one core of a 2-core machine (about 14 ms).
    public static let quickstartNetwork = "1gbit:100us"

    /// Steps of one Fashion-MNIST epoch (60,000 samples) at K = 8, B = 32; post-local SGD in the
    /// quickstart switches after half of them.
    public static let quickstartSwitchStep = 60_000 / (8 * 32) / 2

    private static func ints(_ values: [Int]) -> [SweepValue] { values.map { .int($0) } }

    /// The presets whose runs were published (docs/study, docs/faults, docs/compression,
    /// docs/schedules) with our own convolution kernels, before oneDNN's became the default: they
    /// keep `conv_backend = blas`, so that running one again into its directory resumes it and
    /// reproduces its numbers rather than stopping at a run made with other kernels.
    public var keepsOurConvolutions: Bool {
        switch self {
        case .paperQuick, .paper, .compression, .compressionQuick, .schedules, .schedulesQuick, .faults, .faultsQuick: true
        case .convex, .quickstart, .diloco, .dilocoQuick: false
        }
    }

    /// The sweep. `model` replaces the preset's model(s).
    public func spec(model: String? = nil) -> SweepSpec {
        var spec = presetSpec(model: model)
        if keepsOurConvolutions { spec.base["conv_backend"] = .string("blas") }
        return spec
    }

    private func presetSpec(model: String?) -> SweepSpec {
        switch self {
        case .paperQuick: return StudyPreset.paperSpec(models: [model ?? "mlp"], epochs: 4, lr: 0.05, workers: [1, 4, 16],
                                                       localSteps: [4, 16], switchK: 16, switchH: 4, seeds: [1, 2])
        case .paper:
            // ResNet-20 costs ~5× the CNN per sample: it gets the K–H grid only, 2 epochs, and runs last.
            var spec = StudyPreset.paperSpec(models: [model ?? "cnn"], epochs: 4, lr: 0.0125, workers: [1, 4, 16, 64],
                                             localSteps: [4, 32], switchK: 16, switchH: 4, seeds: [1, 2, 3],
                                             slowmoMomenta: [0.5, 0.7], momentumSyncs: ["local", "reset", "average"])
            if model == nil {
                spec.includes += [
                    [("model", [.string("resnet20")]), ("epochs", [.int(2)]), ("algorithm", [.string("minibatch")]),
                     ("workers", StudyPreset.ints([1, 16, 64]))],
                    [("model", [.string("resnet20")]), ("epochs", [.int(2)]), ("algorithm", [.string("local")]),
                     ("workers", StudyPreset.ints([16, 64])), ("local_steps", StudyPreset.ints([4, 32]))],
                ]
            }
            return spec
        case .convex:
            var spec = SweepSpec(source: "study convex")
            spec.base = ["model": .string(model ?? "logreg"), "dataset": .string("fashion-mnist"), "epochs": .int(3),
                         "momentum": .double(0), "nesterov": .bool(false), "weight_decay": .double(0), "lr": .double(0.02),
                         "lr_schedule": .string("constant"), "network": .string(StudyPreset.paperNetwork),
                         // Stich's setting: the linearly scaled rate, constant from the first step. Plain
                         // SGD on a convex model is stable at K = 64's 0.16, above logreg's default limit
                         // (measured with Nesterov momentum).
                         "warmup_epochs": .int(0), "max_lr": .string("none")]
            spec.includes = [
                [("algorithm", [.string("minibatch")]), ("workers", StudyPreset.ints([1, 2, 4, 8, 16, 32, 64]))],
                [("algorithm", [.string("local")]), ("workers", StudyPreset.ints([2, 4, 8, 16, 32, 64])),
                 ("local_steps", StudyPreset.ints([2, 8, 32]))],
            ]
            return spec
        case .quickstart:
            return StudyPreset.quickstartSpec(model: model ?? "cnn")
        case .diloco:
            return StudyPreset.dilocoSpec(model: model ?? "gpt-mini", seeds: [1, 2, 3])
        case .dilocoQuick:
            return StudyPreset.dilocoSpec(model: model ?? "gpt-micro", seeds: [1])
        case .compression:
            return StudyPreset.compressionSpec(model: model ?? "cnn", epochs: 2, seeds: [1, 2, 3])
        case .compressionQuick:
            return StudyPreset.compressionSpec(model: model ?? "cnn", epochs: 1, seeds: [1])
        case .schedules:
            return StudyPreset.schedulesSpec(model: model ?? "cnn", epochs: 4, seeds: [1, 2, 3])
        case .schedulesQuick:
            return StudyPreset.schedulesSpec(model: model ?? "cnn", epochs: 2, seeds: [1])
        case .faults:
            return StudyPreset.faultsSpec(model: model ?? "cnn", epochs: 4, seeds: [1, 2, 3])
        case .faultsQuick:
            return StudyPreset.faultsSpec(model: model ?? "mlp", epochs: 2, seeds: [1])
        }
    }

    /// Workers of the faults study.
    public static let faultsWorkers = 16

    /// Seconds of one worker's compute per iteration in the faults study's modelled time (about
    /// the cnn's step at B = 32 on one core here): fixed, so that the modelled times of its runs
    /// differ by their scenario and not by the noise of a shared machine.
    public static let faultsModelledCompute = 0.01

    /// Iterations of one Fashion-MNIST epoch (60,000 samples) at K = 16, B = 32.
    static let faultsStepsPerEpoch = 60_000 / faultsWorkers / 32

    /// The iteration at 30 % of `epochs` epochs of the faults study, where its last worker leaves.
    public static func lostWorkerIteration(epochs: Int) -> Int { 3 * epochs * faultsStepsPerEpoch / 10 }

    /// What a lost worker or a straggler costs: K = 16 on Fashion-MNIST, minibatch SGD, local SGD
    /// with H = 4 and 16, and asynchronous local SGD (sequentialised, 16 nodes of one thread, H = 4),
    /// each fault-free; with worker 15 gone for good at 30 % of the iterations (`--faults
    /// leave:15@S`; not async, whose rounds are not re-formed around a missing node); and with
    /// worker 15 at half speed (`--worker-speeds 1,…,1,0.5`), for local SGD also with Dynamic Local
    /// Updates (`--dynamic-local-steps`: worker 15 takes H/2 steps per period). The recipe is the paper preset's
    /// (lr 0.0125 scaled to η = 0.025, one epoch of warm-up, cosine), modelled on a 1gbit:100us network
    /// with a fixed compute per iteration (`faultsModelledCompute`).
    static func faultsSpec(model: String, epochs: Int, seeds: [Int]) -> SweepSpec {
        var spec = SweepSpec(source: "study faults")
        spec.base = ["model": .string(model), "dataset": .string("fashion-mnist"), "epochs": .int(epochs), "workers": .int(faultsWorkers),
                     "lr": .double(0.0125), "warmup_epochs": .int(1), "lr_schedule": .string("cosine"),
                     "network": .string(quickstartNetwork), "modelled_compute": .double(faultsModelledCompute)]
        let lost: (field: String, values: [SweepValue]) = ("faults", [.string("leave:\(faultsWorkers - 1)@\(lostWorkerIteration(epochs: epochs))")])
        let straggler: (field: String, values: [SweepValue]) = ("worker_speeds", [.string(Array(repeating: "1", count: faultsWorkers - 1).joined(separator: ",") + ",0.5")])
        let lockstep: [[(field: String, values: [SweepValue])]] = [
            [("algorithm", [.string("minibatch")])],
            [("algorithm", [.string("local")]), ("local_steps", ints([4, 16]))],
        ]
        let async: [(field: String, values: [SweepValue])] = [("algorithm", [.string("async")]), ("nodes", [.int(faultsWorkers)]),
                                                              ("average_every", [.int(4)]), ("async_deterministic", [.bool(true)])]
        let dylu: (field: String, values: [SweepValue]) = ("dynamic_local_steps", [.bool(true)])
        spec.includes = lockstep + lockstep.map { $0 + [lost] } + lockstep.map { $0 + [straggler] } + [lockstep[1] + [straggler, dylu]]
            + [async, async + [straggler]]
        if seeds != [1] { spec.seeds = ints(seeds) }
        return spec
    }

    /// Compressed communication at K = 16 (§ "Compressed communication" of the README): fp32,
    /// fp16, int8, top-k 1 % and top-k 1 % with error feedback, for minibatch SGD (its gradients
    /// compressed: H = 1) and local SGD with H ∈ {4, 16} (its weight deltas compressed), on
    /// Fashion-MNIST with the default recipe (η = K·B·0.1/256 capped at the model's 0.1, warm-up
    /// over the first half of the epochs when there are two, then cosine), modelled on a
    /// 1gbit:100us network. Accuracy against bytes sent answers which codec is lossless and what
    /// each saves.
    static func compressionSpec(model: String, epochs: Int, seeds: [Int]) -> SweepSpec {
        var spec = SweepSpec(source: "study compression")
        spec.base = ["model": .string(model), "dataset": .string("fashion-mnist"), "epochs": .int(epochs), "workers": .int(16),
                     "network": .string(quickstartNetwork)]
        let codecs: [SweepValue] = [.string("none"), .string("fp16"), .string("int8"), .string("topk")]
        spec.includes = [
            [("algorithm", [.string("minibatch")]), ("compress", codecs)],
            [("algorithm", [.string("minibatch")]), ("compress", [.string("topk")]), ("error_feedback", [.bool(true)])],
            [("algorithm", [.string("local")]), ("local_steps", ints([4, 16])), ("compress", codecs)],
            [("algorithm", [.string("local")]), ("local_steps", ints([4, 16])), ("compress", [.string("topk")]),
             ("error_feedback", [.bool(true)])],
        ]
        if seeds != [1] { spec.seeds = ints(seeds) }
        return spec
    }

    /// When to synchronize, at K = 16 on Fashion-MNIST with the cosine schedule: local SGD with a
    /// constant H ∈ {2, 4, 8, 16}; the Quadratic Synchronization Rule (Gu et al., ICLR 2024) from
    /// H_base = 2 with α ∈ {0.1, 0.2}, so H grows as the rate decays; and Streaming DiLoCo's
    /// fragments (Douillard et al. 2025) over plain averaging (outer SGD at rate 1: local SGD) at
    /// H = 16 with P = 4 fragments, without and with τ = 2 steps of overlap — the same bytes as
    /// local SGD at H = 16, a lower peak. No warm-up (η = 0.1, the cnn's cap, from the start), then
    /// the per-epoch half-cosine: the rate, and so QSR's H, changes only from epoch to epoch, which
    /// is why the preset runs 4 epochs (2 with --quick). Modelled on 1gbit:100us; the report plots
    /// accuracy against bytes, synchronizations and modelled time.
    static func schedulesSpec(model: String, epochs: Int, seeds: [Int]) -> SweepSpec {
        var spec = SweepSpec(source: "study schedules")
        spec.base = ["model": .string(model), "dataset": .string("fashion-mnist"), "epochs": .int(epochs), "workers": .int(16),
                     "lr_schedule": .string("cosine"), "warmup_epochs": .int(0), "network": .string(quickstartNetwork)]
        spec.includes = [
            [("algorithm", [.string("local")]), ("local_steps", ints([2, 4, 8, 16]))],
            [("algorithm", [.string("local")]), ("local_steps", [.int(2)]), ("qsr_alpha", [.double(0.1), .double(0.2)])],
            [("algorithm", [.string("diloco")]), ("outer_optimizer", [.string("sgd")]), ("local_steps", [.int(16)]),
             ("streaming_fragments", [.int(4)]), ("streaming_overlap", ints([0, 2]))],
        ]
        if seeds != [1] { spec.seeds = ints(seeds) }
        return spec
    }

    /// One epoch each of minibatch SGD (K = 1 and 8), local SGD (K = 8, H = 4 and 16), post-local
    /// SGD (K = 8, H = 16, switching halfway) and SlowMo (K = 8, H = 16, α = 1, β = 0.5, the
    /// defaults, as in `paper`): accuracy against syncs, bytes and modelled time (§§4–6).
    /// The recipe is `localsgd train`'s default: η = K·B·0.1/256 (0.0125 at K = 1, 0.1 at K = 8,
    /// the cnn's stable rate), no warm-up (K·B = 256 does not raise η above the base), and a
    /// cosine schedule that stays at η within one epoch.
    static func quickstartSpec(model: String) -> SweepSpec {
        var spec = SweepSpec(source: "study quickstart")
        spec.base = ["model": .string(model), "dataset": .string("fashion-mnist"), "epochs": .int(1),
                     "network": .string(quickstartNetwork)]
        spec.includes = [
            [("algorithm", [.string("minibatch")]), ("workers", ints([1, 8]))],
            [("algorithm", [.string("local")]), ("workers", [.int(8)]), ("local_steps", ints([4, 16]))],
            [("algorithm", [.string("post-local")]), ("workers", [.int(8)]), ("local_steps", [.int(16)]),
             ("switch_step", [.int(quickstartSwitchStep)])],
            [("algorithm", [.string("slowmo")]), ("workers", [.int(8)]), ("local_steps", [.int(16)])],
        ]
        return spec
    }

    /// DiLoCo (Douillard et al. 2023) on the character-level language model: K = 4 and 8 workers,
    /// H ∈ {10, 50, 200} inner AdamW steps, the paper's outer Nesterov (η = 0.7, μ = 0.9) against
    /// outer SGD at rate 1 (plain averaging, FedAvg), and minibatch AdamW with the same global batch
    /// K·B. The inner recipe is one for all: AdamW at 3·10⁻³ (not scaled with K·B), weight decay
    /// 0.1, gradients clipped to norm 1, a per-epoch cosine; B = 8 windows of 64 characters of the
    /// fortunes corpus, 2 epochs (1,132 iterations at K = 8, 2,264 at K = 4: the same 9,056 worker
    /// steps), modelled on a 1gbit:100us network.
    static func dilocoSpec(model: String, seeds: [Int]) -> SweepSpec {
        var spec = SweepSpec(source: "study diloco")
        spec.base = ["model": .string(model), "dataset": .string("text"), "context_length": .int(64), "epochs": .int(2),
                     "batch_size": .int(8), "optimizer": .string("adamw"), "lr": .double(0.003), "scale_lr": .bool(false),
                     "weight_decay": .double(0.1), "grad_clip": .double(1), "warmup_epochs": .int(0),
                     "lr_schedule": .string("cosine"), "network": .string(quickstartNetwork)]
        spec.includes = [
            [("algorithm", [.string("minibatch")]), ("workers", ints([4, 8]))],
            [("algorithm", [.string("diloco")]), ("workers", ints([4, 8])), ("local_steps", ints([10, 50, 200])),
             ("outer_optimizer", [.string("nesterov"), .string("sgd")])],
        ]
        if seeds != [1] { spec.seeds = ints(seeds) }
        return spec
    }

    /// Figures 1–11 of the study: a K×H grid of minibatch, local and post-local SGD with the
    /// cosine schedule; switching points T = 1…E−1 at one (K, H) with both schedules; SlowMo on
    /// local and post-local SGD at that (K, H).
    /// The base learning rate is scaled linearly, η = K·B·lr/256 (§3), with one epoch of warm-up;
    /// it is lower than the study's 0.1 because the MLP and CNN have no BatchNorm to keep large-K
    /// rates stable (the MLP diverges at K=64 with lr 0.1 and 0.05, the CNN at K=16 with 0.1 and no warm-up).
    /// The largest rate, 0.1 (CNN and ResNet-20 at K=64, MLP at K=16), is within every model's
    /// default `max_lr`, so the rule holds unchanged at every point.
    ///
    /// SlowMo (Fig. 10) runs with α = 1 and each slow momentum β of `slowmoMomenta` on local SGD
    /// and on post-local SGD (T = 1) at (`switchK`, `switchH`). With more than one base-momentum
    /// policy in `momentumSyncs` (`--momentum-sync`: keep each worker's buffer, reset it, or average
    /// it at every averaging; the SlowMo paper's §3 choices), SlowMo runs under each, and local and
    /// post-local SGD run under the others too, so that every SlowMo run has its baseline.
    static func paperSpec(models: [String], epochs: Int, lr: Double, workers: [Int], localSteps: [Int], switchK: Int, switchH: Int,
                          seeds: [Int], slowmoMomenta: [Double] = [0.5], momentumSyncs: [String] = ["local"]) -> SweepSpec {
        var spec = SweepSpec(source: "study paper")
        spec.base = ["dataset": .string("fashion-mnist"), "epochs": .int(epochs), "warmup_epochs": .int(1), "lr": .double(lr),
                     "lr_schedule": .string("cosine"), "network": .string(paperNetwork)]
        if models.count == 1 { spec.base["model"] = .string(models[0]) }
        let model: [(field: String, values: [SweepValue])] = models.count == 1 ? [] : [("model", models.map { .string($0) })]
        let many = workers.filter { $0 > 1 }
        let first = 1, switches = Array(1..<epochs)
        spec.includes = [
            model + [("algorithm", [.string("minibatch")]), ("workers", ints(workers))],
            model + [("algorithm", [.string("local")]), ("workers", ints(many)), ("local_steps", ints(localSteps))],
            model + [("algorithm", [.string("post-local")]), ("workers", ints(many)), ("local_steps", ints(localSteps)),
                     ("switch_epoch", [.int(first)])],
            model + [("algorithm", [.string("post-local")]), ("workers", [.int(switchK)]), ("local_steps", [.int(switchH)]),
                     ("lr_schedule", [.string("cosine"), .string("step")]), ("switch_epoch", ints(switches))],
            model + [("algorithm", [.string("minibatch")]), ("workers", [.int(switchK)]), ("lr_schedule", [.string("step")])],
            model + [("algorithm", [.string("local")]), ("workers", [.int(switchK)]), ("local_steps", [.int(switchH)]),
                     ("lr_schedule", [.string("step")])],
        ]
        let momenta: [(field: String, values: [SweepValue])] = slowmoMomenta == [0.5] ? [] : [("slowmo_momentum", slowmoMomenta.map { .double($0) })]
        let syncs: [(field: String, values: [SweepValue])] = momentumSyncs == ["local"] ? [] : [("momentum_sync", momentumSyncs.map { .string($0) })]
        spec.includes += [
            model + [("algorithm", [.string("slowmo")]), ("workers", [.int(switchK)]), ("local_steps", [.int(switchH)])] + momenta + syncs,
            model + [("algorithm", [.string("slowmo")]), ("workers", [.int(switchK)]), ("local_steps", [.int(switchH)]),
                     ("switch_epoch", [.int(first)])] + momenta + syncs,
        ]
        let otherSyncs = momentumSyncs.filter { $0 != "local" }
        if !otherSyncs.isEmpty {
            let others: (field: String, values: [SweepValue]) = ("momentum_sync", otherSyncs.map { .string($0) })
            spec.includes += [
                model + [("algorithm", [.string("local")]), ("workers", [.int(switchK)]), ("local_steps", [.int(switchH)]), others],
                model + [("algorithm", [.string("post-local")]), ("workers", [.int(switchK)]), ("local_steps", [.int(switchH)]),
                         ("switch_epoch", [.int(first)]), others],
            ]
        }
        if seeds.count > 1 || seeds != [1] { spec.seeds = ints(seeds) }
        return spec
    }

    /// Rough seconds of one epoch of one run on this machine's class (2 cores, one thread per
    /// run), for the estimate `study` prints before it starts; measured with `localsgd bench`.
    public static let secondsPerEpoch: [String: Double] = ["logreg": 2, "mlp": 5, "cnn": 60, "resnet20": 300,
                                                           "gpt-micro": 20, "gpt-mini": 40, "gpt-tiny": 250]

    /// Estimated wall-clock seconds of `points` run `jobs` at a time.
    public static func estimateSeconds(_ points: [SweepPoint], jobs: Int) -> Double {
        let total = points.reduce(0.0) { sum, p in
            sum + Double(p.config.schedule.epochs) * (secondsPerEpoch[p.config.model.kind.rawValue] ?? 60) + 3  // + process start and data loading
        }
        return total / Double(max(1, min(jobs, 2)))
    }
}
