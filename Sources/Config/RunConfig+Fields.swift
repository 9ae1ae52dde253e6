import Algorithms
import Comm
import RunFiles

extension RunConfig {
    public static let maxEpochs = CheckpointPeriod.maxEpochs
    /// Longest averaging period in steps (H, or H·H_b… for hierarchical levels).
    public static let maxPeriod = 1_000_000_000

    /// THE table of run settings: each field's flat name (config.json, config files, and as
    /// kebab-case the flag), its section, where it lives, its range or choices and its help.
    /// Ranges are far beyond any sensible run on one machine, and tight enough that no product
    /// of them overflows and no allocation they size (batches, datasets, threads, replicas) can
    /// abort. Cross-field limits (warm-up within the epochs, group sizes dividing K) are in
    /// `validate()`. The order is config.json's field order and the one error messages list.
    public static let fields: [ConfigField] = [
        // data
        ConfigField("dataset", .data, \.data.dataset, "Dataset"),
        ConfigField(optional: "data_dir", .data, \.data.dataDir, maxLength: 4096,
                    defaultNote: "the dataset's own, e.g. /usr/share/datasets/fashion-mnist", "Directory with the dataset files"),
        ConfigField("shuffle", .data, \.data.shuffle,
                    "Shuffle the training data every epoch; --no-shuffle reads it in file order, worker k taking the k-th contiguous block (debugging, comparisons)"),
        ConfigField("augment_crop", .data, \.data.augmentCrop, range: FieldRange(lower: 0, upper: 64),
                    "Random-crop padding in pixels, {range} (0: no cropping)"),
        ConfigField("augment_flip", .data, \.data.augmentFlip, "Random horizontal flips"),
        ConfigField("synthetic_train", .data, \.data.syntheticTrain, range: FieldRange(lower: 1, upper: 100_000),
                    "Training samples of the synthetic dataset"),
        ConfigField("synthetic_test", .data, \.data.syntheticTest, range: FieldRange(lower: 1, upper: 100_000),
                    "Test samples of the synthetic dataset"),
        ConfigField("context_length", .data, \.data.contextLength, range: FieldRange(lower: 2, upper: 1024),
                    "Text dataset: tokens T per sample (characters the model reads; each predicts the next)"),
        // model
        ConfigField("model", .model, key: "kind", \.model.kind, "Model"),
        ConfigField("shortcut", .model, \.model.shortcut,
                    "Shortcut of CIFAR ResNets where the shape changes: zero-pad (option A) or projection (option B)"),
        // schedule
        ConfigField("epochs", .schedule, \.schedule.epochs, range: FieldRange(lower: 1, upper: Double(maxEpochs)), "Epochs to train"),
        ConfigField("batch_size", .schedule, \.schedule.batchSize, range: FieldRange(lower: 1, upper: 4096),
                    "Per-worker batch size B (the study's is 32)"),
        // lr is a Float; divergence is caught when it happens
        ConfigField("lr", .schedule, \.schedule.lr, range: FieldRange(lower: 0, upper: Double(Float(1e30)), lowerOpen: true),
                    "Base learning rate before linear scaling: η = K·B·lr/256, at most --max-lr"),
        ConfigField("scale_lr", .schedule, \.schedule.scaleLr, "Scale the learning rate linearly with K·B/256"),
        ConfigField("lr_schedule", .schedule, \.schedule.lrSchedule,
                    "Learning-rate schedule after warm-up: step, cosine (half-cosine per epoch over the epochs left) or constant"),
        ConfigField(optional: "decay_epochs", .schedule, \.schedule.decayEpochs,
                    range: FieldRange(lower: 1, upper: Double(maxEpochs), maxItems: 100),
                    defaultNote: "30,60,80 of 90 scaled to the epochs after warm-up",
                    "Epochs after which the step schedule multiplies the rate by --decay-factor: a comma list of at most 100, increasing, {range}, after warm-up and below --epochs"),
        ConfigField("decay_factor", .schedule, \.schedule.decayFactor, range: FieldRange(lower: 0, upper: 1, lowerOpen: true),
                    "Factor of each step decay"),
        ConfigField("warmup_epochs", .schedule, \.schedule.warmupEpochs, range: FieldRange(lower: 0, upper: Double(maxEpochs)),
                    choices: ["auto", "a whole number of epochs"],
                    "Epochs of per-iteration linear warm-up from --lr to the scaled rate, {range} and at most --epochs, or auto: when the rate climbs above --lr (K·B > 256), Goyal et al.'s 5 epochs, at most half of --epochs; else none"),
        ConfigField("max_lr", .schedule, \.schedule.maxLr, choices: ["auto", "none", "a rate > 0"],
                    "Most the linear scaling rule may raise the rate to: auto (the model's stable rate: 0.1 for logreg, mlp and cnn; for the ResNets 0.1 without warm-up, no limit after one), none, or a rate; a higher --lr is kept"),
        // optimizer
        ConfigField("optimizer", .optimizer, key: "kind", \.optimizer.kind,
                    "Optimizer: sgd, lars (trust coefficient 0.02, clipping), adam or adamw (PyTorch's Adam and AdamW; --weight-decay's default suits SGD, so set your own for adamw, e.g. 0.01)"),
        ConfigField("momentum", .optimizer, \.optimizer.momentum, range: FieldRange(lower: 0, upper: 1, upperOpen: true), "Momentum"),
        ConfigField("nesterov", .optimizer, \.optimizer.nesterov, "Nesterov momentum"),
        ConfigField("weight_decay", .optimizer, \.optimizer.weightDecay, range: FieldRange(lower: 0, upper: 1),
                    "L2 weight decay on all parameters"),
        ConfigField("momentum_correction", .optimizer, \.optimizer.momentumCorrection,
                    "Momentum correction when the learning rate changes"),
        ConfigField("adam_beta1", .optimizer, \.optimizer.beta1, range: FieldRange(lower: 0, upper: 1, upperOpen: true),
                    "Adam and AdamW: β₁, the decay of the gradient's running mean (--momentum does not apply to them)"),
        ConfigField("adam_beta2", .optimizer, \.optimizer.beta2, range: FieldRange(lower: 0, upper: 1, upperOpen: true),
                    "Adam and AdamW: β₂, the decay of the squared gradient's running mean"),
        ConfigField("adam_epsilon", .optimizer, \.optimizer.epsilon, range: FieldRange(lower: 0, upper: 1),
                    "Adam and AdamW: ε, added to the root of the second moment"),
        ConfigField(optional: "grad_clip", .optimizer, \.optimizer.gradClip, range: FieldRange(lower: 0, upper: Double(Float(1e30))),
                    defaultNote: "off",
                    "Clip each step's (mean) gradient to this global L2 norm, as PyTorch's clip_grad_norm_, any optimizer, {range} (0: off)"),
        // algorithm
        ConfigField("algorithm", .algorithm, key: "kind", \.algorithm.kind, "Algorithm"),
        ConfigField("workers", .algorithm, \.algorithm.workers, range: FieldRange(lower: 1, upper: 1024), "Number of workers K"),
        ConfigField("local_steps", .algorithm, \.algorithm.localSteps, range: FieldRange(lower: 1, upper: 1_000_000),
                    "Local steps H between weight averages"),
        ConfigField(optional: "switch_epoch", .algorithm, \.algorithm.switchEpoch, range: FieldRange(lower: 0, upper: Double(maxEpochs)),
                    "Post-local SGD: epoch at which to switch from minibatch to local SGD, {range} and at most --epochs"),
        ConfigField(optional: "switch_step", .algorithm, \.algorithm.switchStep, range: FieldRange(lower: 0, upper: Double(maxPeriod)),
                    "Post-local SGD: iteration at which to switch (instead of --switch-epoch)"),
        ConfigField("group_size", .algorithm, \.algorithm.groupSize, range: FieldRange(lower: 1, upper: 1024, maxItems: 8),
                    defaultNote: "one group of all workers", "Hierarchical: workers per group G, innermost first (comma list of at most 8 levels), {range} and a divisor of K"),
        ConfigField("global_every", .algorithm, \.algorithm.globalEvery, range: FieldRange(lower: 1, upper: 1_000_000, maxItems: 8),
                    defaultNote: "none", "Hierarchical: average across all workers every H·H_b steps, H_b per level (comma list), {range}, H·H_b… at most 10^9"),
        ConfigField("slowmo_lr", .algorithm, \.algorithm.slowmoLr, range: FieldRange(lower: 0, upper: 1000, lowerOpen: true),
                    "SlowMo slow learning rate α"),
        ConfigField("slowmo_momentum", .algorithm, \.algorithm.slowmoMomentum, range: FieldRange(lower: 0, upper: 1, upperOpen: true),
                    "SlowMo slow momentum β"),
        ConfigField("slowmo_nesterov", .algorithm, \.algorithm.slowmoNesterov, "SlowMo with an outer Nesterov step (DiLoCo-style)"),
        ConfigField("outer_optimizer", .algorithm, \.algorithm.outerOptimizer,
                    "DiLoCo's outer optimizer on the pseudo-gradient x₀ − x̄: sgd (with --outer-lr 1 and no momentum, plain averaging), nesterov (DiLoCo's) or adam"),
        ConfigField(optional: "outer_lr", .algorithm, \.algorithm.outerLr, range: FieldRange(lower: 0, upper: 1000, lowerOpen: true),
                    defaultNote: "1 for sgd, 0.7 for nesterov, 0.001 for adam", "DiLoCo's outer learning rate"),
        ConfigField(optional: "outer_momentum", .algorithm, \.algorithm.outerMomentum, range: FieldRange(lower: 0, upper: 1, upperOpen: true),
                    defaultNote: "0 for sgd, 0.9 otherwise", "DiLoCo's outer momentum (Adam's β₁)"),
        ConfigField("outer_lr_schedule", .algorithm, \.algorithm.outerLrSchedule,
                    "DiLoCo's outer learning rate over the run: constant, or cosine (half-cosine to 0 over all iterations)"),
        ConfigField("bn_sync", .algorithm, \.algorithm.bnSync, "BatchNorm statistics at averaging"),
        ConfigField("momentum_sync", .algorithm, \.algorithm.momentumSync, "Base-optimizer momentum at averaging"),
        // execution
        ConfigField("backend", .execution, \.execution.backend,
                    "Backend: inprocess (simulates K workers exactly) or mpi (under mpirun)"),
        ConfigField("reduction", .execution, \.execution.reduction,
                    "MPI: how sums across ranks are ordered. ordered: in worker order, exactly as the in-process backend, so a run is bitwise the in-process run whatever the ranks, workers per rank and threads (slower; async's concurrent mode stays timing-dependent). fast: MPI_Allreduce's own order, equal to rounding"),
        ConfigField(optional: "network", .execution, \.execution.network, maxLength: 256, defaultNote: "none",
                    "Network model for modelled wall-clock, e.g. 10gbit:50us or 1gbit:100us,nodes-of=8,intra=100gbit:2us (at most 256 characters)"),
        ConfigField("threads", .execution, \.execution.threads, range: FieldRange(lower: 1, upper: 256), "Threads"),
        ConfigField("seed", .execution, \.execution.seed, "Random seed"),
        ConfigField("eval_batch_size", .execution, \.execution.evalBatchSize, range: FieldRange(lower: 1, upper: 4096),
                    "Batch size for evaluation"),
        ConfigField("inject_latency", .execution, \.execution.injectLatency, range: FieldRange(lower: 0, upper: 10),
                    "Seconds to wait before every collective, to emulate network latency"),
        ConfigField("collective_timeout", .execution, \.execution.collectiveTimeout, range: FieldRange(lower: 0, upper: 86_400),
                    defaultNote: "0: wait forever",
                    "MPI: abort the whole job (non-zero exit, a message naming the call) when a collective waits longer than this many seconds, e.g. on a rank that hangs rather than dies"),
        // async
        ConfigField("nodes", .async, \.async.nodes, range: FieldRange(lower: 1, upper: 1024),
                    defaultNote: "1; under MPI one per rank", "Async: nodes N, each one replica shared by its threads"),
        ConfigField("threads_per_node", .async, \.async.threadsPerNode, range: FieldRange(lower: 1, upper: 256),
                    "Async: worker threads P per node, updating its replica without locks"),
        ConfigField(optional: "average_every", .async, \.async.averageEvery, range: FieldRange(lower: 1, upper: 1_000_000),
                    defaultNote: "--local-steps", "Async: node steps H between snapshots for averaging"),
        ConfigField(optional: "average_seconds", .async, \.async.averageSeconds, range: FieldRange(lower: 0, upper: 3600, lowerOpen: true),
                    "Async: start an averaging round every S seconds instead of every H steps"),
        ConfigField("async_deterministic", .async, \.async.asyncDeterministic,
                    "Async: sequentialised, deterministic mode (threads step in a fixed round-robin order)"),
        ConfigField("async_delay", .async, \.async.asyncDelay, range: FieldRange(lower: 0, upper: 1_000_000),
                    "Async sequentialised mode: averaging completes after D more node steps"),
        // execution, continued
        ConfigField(optional: "init", .execution, \.execution.initWeights, maxLength: 4096, defaultNote: "the seed's initialisation",
                    "Start every worker from these weights (.safetensors, names as in final.safetensors)"),
        ConfigField(optional: "checkpoint_every", .execution, \.execution.checkpointEvery, maxLength: 32, defaultNote: "none",
                    "Write a checkpoint every \(CheckpointPeriod.help) into OUT/checkpoints/"),
    ]
}
