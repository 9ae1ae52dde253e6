import Algorithms
import Optim
import NN

/// Where a run's workers live.
public enum BackendKind: String, Codable, CaseIterable, Sendable {
    /// K workers simulated exactly in this process (the default).
    case inprocess
    /// One process per rank under `mpirun`, each holding `workers / ranks` workers.
    case mpi
}

/// Whether a lockstep run writes `syncs.jsonl`, one line per synchronization (`--sync-record`).
public enum SyncRecordSetting: String, Codable, CaseIterable, Sendable {
    case on, off
}

/// Everything that defines a run: the resolved form of CLI flags and config files, written to
/// `config.json`. Its fields live in sections, each the only holder of its fields' defaults;
/// the table `RunConfig.fields` names every field once (flat snake_case name, `section.key`,
/// range, choices, help), and flags, config files, `--help` and config.json all derive from it.
/// config.json stays flat (`batch_size`), as it always was.
public struct RunConfig: Equatable, Sendable {
    public var data = DataSection()
    public var model = ModelSection()
    /// The optimizer section is `Optim.OptimizerConfig` itself; its defaults are the run's.
    public var optimizer = OptimizerConfig()
    public var schedule = ScheduleSection()
    /// `[algorithm]`: the synchronization strategy and its settings (`Algorithms.AlgorithmConfig`).
    public var algorithm = AlgorithmConfig()
    public var async = AsyncSection()
    public var execution = ExecutionSection()

    public init() {}
}

extension RunConfig: Codable {
    /// Reads the flat form (config.json, and `ConfigLoader`'s merged fields). A field left out
    /// keeps its default, so a config.json from before a field existed still reads; a field
    /// given as null must be one that may be unset.
    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: FieldKey.self)
        for field in Self.fields { try field.decode(&self, container) }
        if !container.contains(FieldKey("conv_backend")) { execution.convBackend = Self.convBackendBeforeTheField }
    }

    /// The kernels of a stored config (config.json, a checkpoint) that names none: it was written
    /// before `conv_backend` existed, when ours were the only ones. (ConfigLoader's merged fields
    /// always name it.)
    public static let convBackendBeforeTheField = ConvBackend.blas

    /// The config with what cannot change its numbers made equal, for comparing two runs'
    /// configs: the backend of the convolutions of a model without any.
    public var resultDefining: RunConfig {
        var c = self
        if !c.model.kind.hasConvolutions { c.execution.convBackend = ConvBackend.default }
        return c
    }

    /// The flat form, keys in snake_case; unset optional fields are left out.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: FieldKey.self)
        for field in Self.fields { try field.encode(self, &container) }
    }
}

extension RunConfig {
    /// Every field name a config file may use (flat; `section.key` names are accepted too).
    public static let fieldNames: [String] = fields.map(\.name)

    /// The fields by flat name and by `section.key`.
    static let fieldsByName: [String: ConfigField] = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })
    static let fieldsByPath: [String: ConfigField] = Dictionary(uniqueKeysWithValues: fields.map { ($0.path, $0) })
    static let fieldsByKeyPath: [AnyKeyPath: ConfigField] = Dictionary(uniqueKeysWithValues: fields.map { ($0.keyPath, $0) })

    /// The field a key path of the table leads to (for flags applied through key paths).
    public static func field(_ keyPath: AnyKeyPath) -> ConfigField {
        guard let field = fieldsByKeyPath[keyPath] else { preconditionFailure("\(keyPath) is not in RunConfig.fields") }
        return field
    }

    /// The field named `name` (flat snake_case).
    public static func field(named name: String) -> ConfigField? { fieldsByName[name] }

    /// The allowed values of enumerated fields, for error messages.
    static let choices: [String: [String]] = Dictionary(uniqueKeysWithValues: fields.compactMap { f in f.choices.map { (f.name, $0) } })

    /// Fields held as 32-bit floats, whose typed numbers may round onto a range's bound.
    public static let floatFields: Set<String> = Set(fields.filter {
        $0.keyPath is WritableKeyPath<RunConfig, Float> || $0.keyPath is WritableKeyPath<RunConfig, Float?>
    }.map(\.name))

    /// Fields that hold lists of integers, where a single integer means a one-element list.
    public static let integerListFields: Set<String> = Set(fields.filter(\.isIntegerList).map(\.name))

    /// Section names of config files (`[schedule]`, `schedule.lr`).
    public static let sectionNames: [String] = ConfigField.Section.allCases.map(\.rawValue)
}
