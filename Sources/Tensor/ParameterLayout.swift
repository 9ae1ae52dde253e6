/// What a slot of a flat buffer holds; optimizers use it to decide weight decay and LARS
/// treatment, initialisers to pick a distribution.
public enum SlotRole: String, Codable, Sendable {
    case convolutionWeight, linearWeight, bias, normScale, normShift
    case runningMean, runningVariance

    /// Weights of convolutions and linear layers (LARS adapts these; §A.1).
    public var isWeightMatrix: Bool { self == .convolutionWeight || self == .linearWeight }
}

/// One named tensor inside a flat buffer: `values[offset ..< offset + count]` reshaped to `shape`.
/// Names and shapes are PyTorch's (`fc1.weight` is [out, in], a convolution weight
/// [out, in, kh, kw]) so a checkpoint loads into the equivalent PyTorch module.
public struct ParameterSlot: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var role: SlotRole
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }

    public init(name: String, shape: [Int], role: SlotRole, offset: Int) {
        self.name = name
        self.shape = shape
        self.role = role
        self.offset = offset
    }
}

/// The layout of a flat buffer: slots in order, packed without gaps (DESIGN.md "one flat buffer
/// per replica"). Parameters, gradients and momentum share one layout; BatchNorm running
/// statistics have a second.
public struct ParameterLayout: Codable, Equatable, Sendable {
    public private(set) var slots: [ParameterSlot] = []
    public private(set) var count: Int = 0

    public init() {}

    /// Appends a slot and returns its offset.
    @discardableResult
    public mutating func append(name: String, shape: [Int], role: SlotRole) -> Int {
        let slot = ParameterSlot(name: name, shape: shape, role: role, offset: count)
        slots.append(slot)
        count += slot.count
        return slot.offset
    }

    public func slot(named name: String) -> ParameterSlot? { slots.first { $0.name == name } }
}
