/// The name of a synchronization strategy as `--algorithm` spells it, and the registry of
/// strategies. Adding a strategy is its own file, which declares its name
/// (`extension AlgorithmKind { public static let name = AlgorithmKind(named: "name") }`) and its
/// builder, plus one line in `registry`.
public struct AlgorithmKind: RawRepresentable, Hashable, Codable, CaseIterable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// A registered kind; nil for any other name.
    public init?(rawValue: String) {
        guard Self.registry.contains(where: { $0.kind.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    /// The kind called `name`, for a strategy file's `static let`.
    public init(named name: String) { rawValue = name }

    public var description: String { rawValue }

    /// Every registered kind, in the order the CLI lists them.
    public static var allCases: [AlgorithmKind] { registry.map(\.kind) }

    /// Builds a kind's strategy for K = `workers` workers from settings already validated
    /// (`AlgorithmConfig.validate(workers:)`), with `parameterCount` floats per replica.
    public typealias Builder = (_ config: AlgorithmConfig, _ workers: Int, _ parameterCount: Int) -> SyncStrategy

    /// The registry, one line per strategy. A kind without a builder is an execution mode of its
    /// own rather than a strategy of the lockstep trainer.
    static let registry: [(kind: AlgorithmKind, build: Builder?)] = [
        (.minibatch, MinibatchSGD.build),
        (.local, PeriodicAveraging.buildLocal),
        (.postLocal, PostLocalSGD.build),
        (.hierarchical, PeriodicAveraging.buildHierarchical),
        (.slowmo, SlowMoBuilder.build),
        (.diloco, DiLoCoBuilder.build),
        (.async, nil),
    ]
}
