import Foundation

/// `--local-steps`: H, the local steps between global weight averages, constant (`8`) or a
/// schedule over the run (`1@0,4@2e,16@5e`: H is 1 from iteration 0, 4 from epoch 2, 16 from
/// epoch 5; `N` is iteration N, `Ne` the start of 0-based epoch N, counted from the start of the
/// run). In files a constant is an integer (`local_steps = 8`, as config.json writes it) and a
/// schedule a string. `AlgorithmConfig.localSteps` keeps the constant, or a schedule's first H,
/// for everything that reads H as one number (summaries, reports, labels).
public enum LocalStepsSetting: Equatable, Sendable {
    case constant(Int)
    case schedule([LocalStepsPoint])

    /// The most entries a schedule takes.
    public static let maxPoints = 100
    /// The largest H and the latest point in iterations or epochs.
    public static let maxLocalSteps = 1_000_000
    public static let maxPoint = 1_000_000_000

    /// H of a constant, a schedule's first H.
    public var first: Int {
        switch self {
        case .constant(let h): return h
        case .schedule(let points): return points[0].localSteps
        }
    }

    /// `8` or `1@0,4@2e,16@5e`; throws a sentence naming what is wrong.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let h = Int(trimmed) {
            self = .constant(h)
            return
        }
        let entries = trimmed.split(separator: ",", omittingEmptySubsequences: false)
        guard entries.count <= Self.maxPoints else {
            throw StrategyError("a --local-steps schedule takes at most \(Self.maxPoints) entries, got \(entries.count)")
        }
        var points: [LocalStepsPoint] = []
        for entry in entries {
            let point = try LocalStepsPoint(parsing: entry.trimmingCharacters(in: .whitespaces))
            if let previous = points.last, previous.inEpochs == point.inEpochs, point.start <= previous.start {
                throw StrategyError("--local-steps schedule points must increase: \(point) does not come after \(previous)")
            }
            points.append(point)
        }
        guard points[0].start == 0 else {
            throw StrategyError("a --local-steps schedule starts at 0 (e.g. \(points[0].localSteps)@0), got \(points[0])")
        }
        self = .schedule(points)
    }

    /// The schedule's text as `--local-steps` takes it.
    public var text: String {
        switch self {
        case .constant(let h): return String(h)
        case .schedule(let points): return points.map(\.description).joined(separator: ",")
        }
    }
}

/// One entry `H@N` (iteration N) or `H@Ne` (epoch N) of a `--local-steps` schedule.
public struct LocalStepsPoint: Equatable, Sendable, CustomStringConvertible {
    public var localSteps: Int
    public var start: Int
    public var inEpochs: Bool

    public init(localSteps: Int, start: Int, inEpochs: Bool) {
        self.localSteps = localSteps
        self.start = start
        self.inEpochs = inEpochs
    }

    init(parsing entry: String) throws {
        let parts = entry.split(separator: "@", omittingEmptySubsequences: false)
        let form = "each --local-steps schedule entry is H@N (from iteration N) or H@Ne (from epoch N)"
        guard parts.count == 2 else { throw StrategyError("\(form), got '\(entry)'") }
        var at = Substring(parts[1])
        inEpochs = at.hasSuffix("e")
        if inEpochs { at = at.dropLast() }
        guard let h = Int(parts[0]), let n = Int(at), at.allSatisfy(\.isNumber) else {
            throw StrategyError("\(form), got '\(entry)'")
        }
        guard h >= 1, h <= LocalStepsSetting.maxLocalSteps else {
            throw StrategyError("H in the --local-steps schedule must be between 1 and \(LocalStepsSetting.maxLocalSteps), got \(h) in '\(entry)'")
        }
        guard n <= LocalStepsSetting.maxPoint else {
            throw StrategyError("a --local-steps schedule point must be at most \(LocalStepsSetting.maxPoint), got '\(entry)'")
        }
        localSteps = h
        start = n
    }

    public var description: String { "\(localSteps)@\(start)\(inEpochs ? "e" : "")" }

    /// The first iteration of this entry.
    func iteration(stepsPerEpoch: Int) -> Int { inEpochs ? start * stepsPerEpoch : start }
}

extension LocalStepsSetting: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let h = try? c.decode(Int.self) {
            self = .constant(h)
            return
        }
        guard let text = try? c.decode(String.self) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a number of local steps or a schedule such as 1@0,4@2e")
        }
        do {
            try self.init(parsing: text)
        } catch let e as StrategyError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: e.description, underlyingError: e))
        }
    }

    /// A constant as an integer, so config.json of a constant H is what it always was.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .constant(let h): try c.encode(h)
        case .schedule: try c.encode(text)
        }
    }
}
