/// How often a run writes checkpoints, as `--checkpoint-every` spells it: `500` (steps) or
/// `1e` / `2epochs` (epochs), with the counts bounded so that `interval` cannot overflow.
public struct CheckpointPeriod: Equatable, Sendable {
    public static let maxSteps = 1_000_000_000
    public static let maxEpochs = 10_000
    public static let help = "N steps (1 to 10^9, e.g. 500) or N epochs (1 to \(maxEpochs), e.g. 1e or 2epochs)"

    public let count: Int
    public let inEpochs: Bool

    /// nil for text that is no period (the caller names the flag or field in its error).
    public init?(parsing text: String) {
        let text = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard text.count <= 32 else { return nil }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        guard let n = Int(digits), ["", "e", "epoch", "epochs", "s", "step", "steps"].contains(unit) else { return nil }
        inEpochs = unit.hasPrefix("e")
        guard n >= 1, n <= (inEpochs ? Self.maxEpochs : Self.maxSteps) else { return nil }
        count = n
    }

    /// "2 epochs", "500 steps", "1 step".
    public var description: String { "\(count) \(inEpochs ? "epoch" : "step")\(count == 1 ? "" : "s")" }

    /// Iterations between checkpoints.
    public func interval(stepsPerEpoch: Int) -> Int {
        inEpochs ? count * stepsPerEpoch : count  // ≤ 10^4 epochs × any dataset that fits in memory
    }
}
