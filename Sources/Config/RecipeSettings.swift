/// `--warmup-epochs`: `auto` (the default; see `RunConfig.resolvedWarmupEpochs`) or a number of
/// epochs. In files: `"auto"` or an integer.
public enum WarmupSetting: Equatable, Sendable {
    case auto
    case epochs(Int)
}

/// `--max-lr`: the most the linear scaling rule may raise the peak rate to. `auto` (the
/// default) is the model's stable rate (`ModelKind.stableLearningRate`), `none` lifts the limit.
/// In files: `"auto"`, `"none"` or a number.
public enum RateLimitSetting: Equatable, Sendable {
    case auto
    case none
    case rate(Float)
}

extension WarmupSetting: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let epochs = try? c.decode(Int.self) {
            self = .epochs(epochs)
        } else if (try? c.decode(String.self)) == "auto" {
            self = .auto
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected \"auto\" or a number of epochs")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .auto: try c.encode("auto")
        case .epochs(let n): try c.encode(n)
        }
    }
}

extension RateLimitSetting: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let rate = try? c.decode(Float.self) {
            self = .rate(rate)
        } else if let word = try? c.decode(String.self), word == "auto" || word == "none" {
            self = word == "auto" ? .auto : .none
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected \"auto\", \"none\" or a rate")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .auto: try c.encode("auto")
        case .none: try c.encode("none")
        case .rate(let r): try c.encode(r)
        }
    }
}

extension WarmupSetting: ExpressibleByIntegerLiteral {
    public init(integerLiteral epochs: Int) { self = .epochs(epochs) }
}
