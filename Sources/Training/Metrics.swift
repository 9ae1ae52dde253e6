import Foundation

/// Seconds spent in each part of training (the study's Fig. 1 breakdown), summed over steps.
/// Parallel work is charged by wall-clock, split between data, forward and backward in
/// proportion to the time the workers measured in each.
public struct TimeBreakdown: Codable, Equatable, Sendable {
    public var data: Double = 0
    public var forward: Double = 0
    public var backward: Double = 0
    public var optimizer: Double = 0
    public var communication: Double = 0
    public var evaluation: Double = 0

    public init() {}

    /// Training time: everything but evaluation.
    public var training: Double { data + forward + backward + optimizer + communication }

    public static func + (a: TimeBreakdown, b: TimeBreakdown) -> TimeBreakdown {
        var r = a
        r.data += b.data
        r.forward += b.forward
        r.backward += b.backward
        r.optimizer += b.optimizer
        r.communication += b.communication
        r.evaluation += b.evaluation
        return r
    }
}

/// One line of `metrics.jsonl`: the state after an epoch.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var steps: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double
    public var testAccuracy: Double
    /// Text runs: the test loss in bits per character, `testLoss / ln 2`; nil (absent) for images.
    public var testBitsPerChar: Double?
    public var lr: Float
    /// Wall-clock seconds of this epoch, evaluation included.
    public var seconds: Double
    /// Synchronizations (weight averages; gradient all-reduces for minibatch) in this epoch.
    public var syncs: Int
    public var bytesCommunicated: Int
    public var time: TimeBreakdown
    /// Seconds this epoch would take on the `--network` model (measured compute + modelled communication).
    public var modelledSeconds: Double?
    /// Over MPI: seconds this process (rank 0 in the run files) waited at the training
    /// collectives for the slowest process to arrive, from every process's wall-clock between
    /// collectives (`NetworkModel.waitForSlowest`); part of `time.communication`. Nil in process.
    public var syncWait: Double?
    /// With `--network`: modelled communication seconds of the epoch's training, the modelled
    /// collectives plus `syncWait`, to set beside the measured `time.communication`.
    public var modelledCommunication: Double?

    package init(epoch: Int, steps: Int, trainLoss: Double, trainAccuracy: Double, testLoss: Double,
                 testAccuracy: Double, testBitsPerChar: Double? = nil, lr: Float, seconds: Double, syncs: Int, bytesCommunicated: Int,
                 time: TimeBreakdown, modelledSeconds: Double?, syncWait: Double? = nil, modelledCommunication: Double? = nil) {
        self.epoch = epoch
        self.steps = steps
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.testBitsPerChar = testBitsPerChar
        self.lr = lr
        self.seconds = seconds
        self.syncs = syncs
        self.bytesCommunicated = bytesCommunicated
        self.time = time
        self.modelledSeconds = modelledSeconds
        self.syncWait = syncWait
        self.modelledCommunication = modelledCommunication
    }

    enum CodingKeys: String, CodingKey {
        case epoch, steps, trainLoss = "train_loss", trainAccuracy = "train_accuracy", testLoss = "test_loss"
        case testAccuracy = "test_accuracy", testBitsPerChar = "test_bits_per_char", lr, seconds, syncs
        case bytesCommunicated = "bytes_communicated", time, modelledSeconds = "modelled_seconds"
        case syncWait = "sync_wait", modelledCommunication = "modelled_communication"
    }
}

/// `summary.json`: the run's outcome.
public struct RunSummary: Codable, Equatable, Sendable {
    public var algorithm: String
    public var workers: Int
    public var localSteps: Int
    public var model: String
    public var dataset: String
    public var epochs: Int
    public var steps: Int
    public var testAccuracy: Double
    public var testLoss: Double
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var samplesPerSecond: Double
    public var syncs: Int
    public var bytesCommunicated: Int
    public var seconds: Double
    public var time: TimeBreakdown
    public var modelledSeconds: Double?
    public var parameters: Int
    /// Text runs: the last test loss in bits per character (`testLoss / ln 2`); nil for images.
    public var testBitsPerChar: Double? = nil
    /// Text runs: the unigram baseline in bits per character (`DataSplit.unigramBitsPerCharacter`),
    /// what a model that knows only the characters' frequencies scores; nil for images.
    public var unigramBitsPerChar: Double? = nil
    /// With a `--local-steps` schedule or QSR: where H changed, as [first iteration of a period,
    /// H] (`AveragingSchedule.changes`; the last period may be cut at the run's end); nil, and
    /// left out, for a constant H, where `local_steps` says it all.
    public var effectiveLocalSteps: [[Int]]? = nil
    /// The most payload bytes per worker that one iteration's training collectives sent (the
    /// peak beside the total `bytesCommunicated`); nil for asynchronous runs and older summaries.
    public var peakBytesPerStep: Int? = nil
    /// Over MPI: `EpochMetrics.syncWait` summed over the epochs; nil in process.
    public var syncWait: Double? = nil
    /// With `--network`: `EpochMetrics.modelledCommunication` summed over the epochs.
    public var modelledCommunication: Double? = nil

    enum CodingKeys: String, CodingKey {
        case algorithm, workers, localSteps = "local_steps", model, dataset, epochs, steps
        case testBitsPerChar = "test_bits_per_char", unigramBitsPerChar = "unigram_bits_per_char"
        case testAccuracy = "test_accuracy", testLoss = "test_loss", trainLoss = "train_loss"
        case trainAccuracy = "train_accuracy", samplesPerSecond = "samples_per_second", syncs
        case bytesCommunicated = "bytes_communicated", seconds, time, modelledSeconds = "modelled_seconds", parameters
        case effectiveLocalSteps = "effective_local_steps", peakBytesPerStep = "peak_bytes_per_step"
        case syncWait = "sync_wait", modelledCommunication = "modelled_communication"
    }
}

/// Monotonic seconds.
@inline(__always)
package func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
