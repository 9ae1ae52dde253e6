import Config
import Foundation
import Data
import NN
import Optim
import RunFiles
import Tensor

/// What every run sets up alike, whatever its execution mode (§3's recipe): the model, the data
/// split into K shards, the iterations of an epoch and the learning-rate schedule, and the
/// records a run writes from them.
public struct RunSetup: Sendable {
    public let config: RunConfig
    public let data: DataSplit
    public let spec: ModelSpec
    /// K of the data split and of the linear scaling rule: the workers, or the N·P worker
    /// threads of an asynchronous run.
    public let workers: Int
    /// Iterations of one epoch for each of the K workers.
    public let stepsPerEpoch: Int
    public let schedule: LearningRateSchedule
    /// Text: the unigram baseline in bits per character, computed once; nil for images.
    public let unigramBitsPerChar: Double?
    /// `DataSplit.textFingerprint`, computed once; checkpoints carry it.
    public let dataFingerprint: String?

    package init(config: RunConfig, data: DataSplit, workers: Int) throws {
        try data.requireSamples()
        self.config = config
        self.data = data
        self.workers = workers
        spec = ModelSpec(kind: config.model.kind, shortcut: config.model.shortcut, channels: data.train.channels,
                         height: data.train.height, width: data.train.width, classes: data.train.classes,
                         convBackend: config.execution.convBackend)
        stepsPerEpoch = try EpochPlan(sampleCount: data.train.count, workers: workers, batchSize: config.schedule.batchSize,
                                      epoch: 0, seed: config.execution.seed, shuffle: config.data.shuffle).stepsPerEpoch
        schedule = LearningRateSchedule(config: config.scheduleConfig, workers: workers, batchSize: config.schedule.batchSize,
                                        stepsPerEpoch: stepsPerEpoch)
        unigramBitsPerChar = data.unigramBitsPerCharacter
        dataFingerprint = data.textFingerprint
    }

    /// A loss in nats per character as bits per character (÷ ln 2) for text runs, nil for images.
    package func bitsPerCharacter(_ loss: Double) -> Double? {
        data.train.tokens == nil ? nil : loss / log(2)
    }

    public var totalSteps: Int { config.schedule.epochs * stepsPerEpoch }

    /// Epoch `epoch`'s shuffle and K-way split (Algorithm 2).
    package func plan(epoch: Int) throws -> EpochPlan {
        try EpochPlan(sampleCount: data.train.count, workers: workers, batchSize: config.schedule.batchSize, epoch: epoch,
                      seed: config.execution.seed, shuffle: config.data.shuffle)
    }

    package var augmentation: Augmentation {
        Augmentation(cropPadding: config.data.augmentCrop, horizontalFlip: config.data.augmentFlip)
    }

    /// [C, B, H, W] of one training batch.
    package var batchShape: Shape { Shape(spec.channels, config.schedule.batchSize, spec.height, spec.width) }

    /// Labels of one sample: 1 for images, T (one next token per input token) for text.
    package var labelsPerSample: Int { data.train.labelsPerSample }

    /// Int32 labels a lane's buffer holds: a training or an evaluation batch, whichever is larger,
    /// times `labelsPerSample`.
    package var labelCapacity: Int {
        max(config.schedule.batchSize, config.execution.evalBatchSize) * labelsPerSample
    }

    /// A network of the run's model, checked to predict every label of a sample: its output for
    /// one sample must be [classes, labelsPerSample]. An image model on text (one prediction for
    /// T labels) is a `TrainingError` naming both.
    package func makeNetwork() throws -> Network {
        let model = config.model.kind.rawValue, dataset = config.data.dataset.rawValue
        let network: Network
        do {
            network = try Network(spec)
        } catch let e as ModelError where labelsPerSample > 1 {
            throw TrainingError("the model \(model) cannot read the \(dataset) dataset (\(e.description)); "
                + "its samples are sequences of \(labelsPerSample) tokens, which need a model that predicts every token")
        }
        guard network.outputsPerSample == labelsPerSample else {
            let p = network.outputsPerSample
            let predictions = p == 1 ? "one prediction" : "\(p) predictions"
            throw TrainingError("the model \(model) makes \(predictions) per sample but the \(dataset) dataset has "
                + "\(labelsPerSample) labels per sample (one per token); choose a model that predicts every token "
                + "of the sequence")
        }
        return network
    }

    package func startedEvent(parameters: Int) -> TrainingEvent {
        .started(parameters: parameters, stepsPerEpoch: stepsPerEpoch, peakLearningRate: schedule.peakLearningRate)
    }

    /// What `config.json` records beside the config.
    package func derivedConfig(parameters: Int) -> DerivedConfig {
        DerivedConfig(normalization: data.normalization, stepsPerEpoch: stepsPerEpoch,
                      peakLearningRate: schedule.peakLearningRate, warmupEpochs: config.resolvedWarmupEpochs,
                      decayEpochs: config.resolvedDecayEpochs, parameters: parameters,
                      trainSamples: data.train.count, testSamples: data.test.count)
    }

    /// A progress line in `epoch` (0-based) after `done` iterations per worker, `inEpoch` of
    /// them in this epoch, with the epoch's mean loss, throughput and seconds per iteration so far.
    package func progress(epoch: Int, done: Int, inEpoch: Int, loss: Double, samplesPerSecond: Double,
                  secondsPerStep: Double) -> TrainingProgress {
        TrainingProgress(
            epoch: epoch + 1, epochs: config.schedule.epochs, step: max(1, inEpoch),
            stepsPerEpoch: stepsPerEpoch, loss: loss, samplesPerSecond: samplesPerSecond,
            etaSeconds: secondsPerStep * Double(totalSteps - done),
            learningRate: schedule.learningRate(atStep: max(0, done - 1)))
    }

    /// The run's summary after `steps` iterations per worker, in which the workers took
    /// `workerSteps` batches in all (nil: every worker one per iteration).
    package func summary(history: [EpochMetrics], steps: Int, workerSteps: Int? = nil, localSteps: Int, totalTime: TimeBreakdown,
                         syncs: Int, bytes: Int, modelledSeconds: Double?, parameters: Int) -> RunSummary {
        let last = history.last
        let samples = Double((workerSteps ?? steps * workers) * config.schedule.batchSize)
        var summary = RunSummary(
            algorithm: config.algorithm.kind.rawValue, workers: workers, localSteps: localSteps,
            model: config.model.kind.rawValue, dataset: config.data.dataset.rawValue, epochs: history.count, steps: steps,
            testAccuracy: last?.testAccuracy ?? .nan, testLoss: last?.testLoss ?? .nan,
            trainLoss: last?.trainLoss ?? .nan, trainAccuracy: last?.trainAccuracy ?? .nan,
            samplesPerSecond: samples / max(1e-9, totalTime.training), syncs: syncs, bytesCommunicated: bytes,
            seconds: totalTime.training + totalTime.evaluation, time: totalTime, modelledSeconds: modelledSeconds,
            parameters: parameters)
        summary.testBitsPerChar = last.flatMap { bitsPerCharacter($0.testLoss) }
        summary.unigramBitsPerChar = unigramBitsPerChar
        return summary
    }
}
