import Foundation

/// Where a running training is, for progress lines (the library never prints; the CLI does).
public struct TrainingProgress: Codable, Equatable, Sendable {
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var stepsPerEpoch: Int
    /// Mean training loss over the workers and the steps of this epoch so far.
    public var loss: Double
    public var samplesPerSecond: Double
    public var etaSeconds: Double
    public var learningRate: Float

    enum CodingKeys: String, CodingKey {
        case epoch, epochs, step, stepsPerEpoch = "steps_per_epoch", loss, samplesPerSecond = "samples_per_second"
        case etaSeconds = "eta_seconds", learningRate = "lr"
    }
}

extension TrainingProgress {
    /// What starts a progress line of `localsgd train --progress-json`, so that a sweep reading
    /// a child run's stderr can tell progress from the run's own messages.
    public static let jsonLinePrefix = "{\"progress\":"

    /// `{"progress":{…}}`: one line, no newline; a loss that is not finite is written as a string.
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let body = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return TrainingProgress.jsonLinePrefix + body + "}"
    }

    /// Reads a line written by `jsonLine`; nil for any other line.
    public init?(jsonLine line: some StringProtocol) {
        guard line.hasPrefix(TrainingProgress.jsonLinePrefix), line.hasSuffix("}") else { return nil }
        let body = line.dropFirst(TrainingProgress.jsonLinePrefix.count).dropLast()
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let progress = try? decoder.decode(TrainingProgress.self, from: Data(body.utf8)) else { return nil }
        self = progress
    }
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
