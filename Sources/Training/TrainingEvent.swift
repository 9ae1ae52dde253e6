/// Where a running training is, for progress lines (the library never prints; the CLI does).
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var stepsPerEpoch: Int
    /// Mean training loss over the workers and the steps of this epoch so far.
    public var loss: Double
    public var samplesPerSecond: Double
    public var etaSeconds: Double
    public var learningRate: Float
}

/// What a `Trainer` reports while it runs.
public enum TrainingEvent: Sendable {
    case started(parameters: Int, stepsPerEpoch: Int, peakLearningRate: Float)
    case progress(TrainingProgress)
    case epochFinished(EpochMetrics)
    /// Something the user should know that does not stop the run.
    case warning(String)
    /// The run is over and its files are written (sent once, by the process that writes them).
    case finished(RunSummary, directory: String?)
}
