/// What a slot of a flat buffer holds; optimizers use it to decide weight decay and LARS
/// treatment, initialisers to pick a distribution.
public enum SlotRole: String, Codable, Sendable {
    case convolutionWeight, linearWeight, bias, normScale, normShift
    case runningMean, runningVariance
    /// A lookup table (a transformer's token or position embedding, [rows, features]).
    case embedding

    /// Weights of convolutions and linear layers (LARS adapts these; §A.1).
    public var isWeightMatrix: Bool { self == .convolutionWeight || self == .linearWeight }
}

/// How a slot's values start (§3 of the study: He init for convolutions, Goyal et al.'s
/// N(0, 0.01²) for the final classifier and γ = 0 for the last BatchNorm of a residual block;
/// GPT-2 / nanoGPT's N(0, 0.02²) for embeddings).
public enum SlotInitializer: Codable, Equatable, Sendable {
    case zeros, ones
    /// N(0, 2/fan_out) with fan_out = shape[0]·(product of shape[2...]) (torchvision's ResNet choice).
    case heNormalFanOut
    /// N(0, 2/fan_in) with fan_in = product of shape[1...].
    case heNormalFanIn
    case normal(standardDeviation: Float)

    /// The default for a role.
    public static func `default`(for role: SlotRole) -> SlotInitializer {
        switch role {
        case .convolutionWeight: return .heNormalFanOut
        case .linearWeight: return .heNormalFanIn
        case .bias, .normShift, .runningMean: return .zeros
        case .normScale, .runningVariance: return .ones
        case .embedding: return .normal(standardDeviation: 0.02)
        }
    }
}

/// One named tensor inside a flat buffer: `values[offset ..< offset + count]` reshaped to `shape`.
/// Names and shapes are PyTorch's (`fc1.weight` is [out, in], a convolution weight
/// [out, in, kh, kw]) so a checkpoint loads into the equivalent PyTorch module.
public struct ParameterSlot: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var role: SlotRole
    public var initializer: SlotInitializer
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }

    public init(name: String, shape: [Int], role: SlotRole, initializer: SlotInitializer? = nil, offset: Int) {
        self.name = name
        self.shape = shape
        self.role = role
        self.initializer = initializer ?? .default(for: role)
        self.offset = offset
    }
}

/// The layout of a flat buffer: slots in order, packed without gaps. Parameters, gradients and momentum share one layout; BatchNorm running
/// statistics have a second.
public struct ParameterLayout: Codable, Equatable, Sendable {
    public private(set) var slots: [ParameterSlot] = []
    public private(set) var count: Int = 0

    public init() {}

    /// Appends a slot and returns its offset.
    @discardableResult
    public mutating func append(name: String, shape: [Int], role: SlotRole,
                                initializer: SlotInitializer? = nil) -> Int {
        let slot = ParameterSlot(name: name, shape: shape, role: role, initializer: initializer, offset: count)
        slots.append(slot)
        count += slot.count
        return slot.offset
    }

    public func slot(named name: String) -> ParameterSlot? { slots.first { $0.name == name } }
}

extension ParameterLayout {
    /// Fills `values` (laid out as `self`) with each slot's initializer, drawing from `rng`
    /// slot by slot in layout order.
    public func initialize(_ values: UnsafeMutablePointer<Float>, rng: inout RandomGenerator) {
        for slot in slots {
            let dst = values + slot.offset
            func normal(_ std: Float) { for i in 0..<slot.count { dst[i] = std * rng.nextNormal() } }
            switch slot.initializer {
            case .zeros: dst.update(repeating: 0, count: slot.count)
            case .ones: dst.update(repeating: 1, count: slot.count)
            case .normal(let std): normal(std)
            case .heNormalFanOut:
                let fanOut = slot.shape[0] * slot.shape.dropFirst(2).reduce(1, *)
                normal((2 / Float(fanOut)).squareRoot())
            case .heNormalFanIn:
                let fanIn = slot.shape.dropFirst().reduce(1, *)
                normal((2 / Float(fanIn)).squareRoot())
            }
        }
    }
}

extension ParameterLayout {
    /// The ranges of the layers that own the slots, in layout (registration, so depth) order: a
    /// layer is a run of consecutive slots whose names agree up to their last dot (`fc1.weight`
    /// and `fc1.bias` are layer `fc1`; `transformer.h.0.attn.c_attn.weight` and `.bias` are one
    /// `Linear`). Together they cover 0..<`count` without gaps; empty for an empty layout.
    public var layerRanges: [Range<Int>] {
        var ranges: [Range<Int>] = []
        var owner: Substring?
        for slot in slots where slot.count > 0 {
            let name = slot.name[...]
            let layer = name.lastIndex(of: ".").map { name[..<$0] } ?? name
            if let last = ranges.last, layer == owner {
                ranges[ranges.count - 1] = last.lowerBound..<slot.range.upperBound
            } else {
                ranges.append(slot.range)
                owner = layer
            }
        }
        return ranges
    }
}
