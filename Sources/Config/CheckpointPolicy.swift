import RunFiles

/// When to write checkpoints: `--checkpoint-every N` (iterations) or `Ne` / `Nepoch(s)` (epochs).
public struct CheckpointPolicy {
    public let interval: Int
    public let directory: String

    /// nil when the config asks for no checkpoints.
    public init?(config: RunConfig, directory out: String, stepsPerEpoch: Int) throws {
        guard let text = config.execution.checkpointEvery, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        guard let period = CheckpointPeriod(parsing: text) else {
            throw ConfigError("--checkpoint-every takes \(CheckpointPeriod.help), got '\(text)'")
        }
        interval = period.interval(stepsPerEpoch: stepsPerEpoch)
        directory = out + "/checkpoints"
    }

    public func isDue(step: Int) -> Bool { step > 0 && step % interval == 0 }
}
