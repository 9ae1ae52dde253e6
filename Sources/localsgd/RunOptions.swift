import Algorithms
import ArgumentParser
import Comm
import Config
import Data
import NN
import Optim

extension DatasetKind: ExpressibleByArgument {}
extension ModelKind: ExpressibleByArgument {}
extension ShortcutKind: ExpressibleByArgument {}
extension ConvBackend: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension AlgorithmKind: ExpressibleByArgument {}
extension BatchNormSync: ExpressibleByArgument {}
extension MomentumSync: ExpressibleByArgument {}
extension OuterOptimizerKind: ExpressibleByArgument {}
extension OuterLRSchedule: ExpressibleByArgument {}
extension BackendKind: ExpressibleByArgument {}
extension ReductionMode: ExpressibleByArgument {}
extension PayloadCodecKind: ExpressibleByArgument {}
extension SyncRecordSetting: ExpressibleByArgument {}

extension WarmupSetting: ExpressibleByArgument {
    public init?(argument: String) {
        if argument == "auto" { self = .auto } else if let n = Int(argument) { self = .epochs(n) } else { return nil }
    }
}

extension RateLimitSetting: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "none": self = .none
        default:
            guard let rate = Float(argument) else { return nil }
            self = .rate(rate)
        }
    }
}

extension LocalStepsSetting {
    /// `--local-steps`: a number or a schedule; a bad one is a sentence saying what is wrong.
    static func argument(_ text: String) throws -> LocalStepsSetting {
        do { return try LocalStepsSetting(parsing: text) } catch let e as StrategyError { throw ValidationError(e.description) }
    }
}

/// A comma-separated list of positive integers, e.g. `30,60,80`.
struct IntList: ExpressibleByArgument {
    var values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        values = parts.map { $0! }
    }
}

/// The help of the flag setting the field at `keyPath`: `RunConfig.fields`' text with its
/// choices, range and default.
func help(_ keyPath: AnyKeyPath) -> ArgumentHelp { ArgumentHelp(RunConfig.field(keyPath).help) }

/// Flags laid over a config through the key paths of `RunConfig.fields`: each flag given
/// replaces its field, and is then held to the field's range under the flag's name.
struct FlagSettings {
    private(set) var config: RunConfig
    /// The flat names of the fields set.
    private(set) var given: Set<String> = []
    /// Numbers of Float fields as typed, before rounding.
    private var typed: [String: Double] = [:]

    init(over config: RunConfig) { self.config = config }

    mutating func set<Value>(_ keyPath: WritableKeyPath<RunConfig, Value>, _ value: Value?) {
        guard let value else { return }
        config[keyPath: keyPath] = value
        given.insert(RunConfig.field(keyPath).name)
    }

    /// For fields that may be unset: a flag given sets a value.
    mutating func setOptional<Value>(_ keyPath: WritableKeyPath<RunConfig, Value?>, _ value: Value?) {
        guard let value else { return }
        config[keyPath: keyPath] = value
        given.insert(RunConfig.field(keyPath).name)
    }

    /// A Float field from a number as typed: its range is checked on this value, not on the
    /// Float it rounds to (0.99999999 is 1 as a Float).
    mutating func set(_ keyPath: WritableKeyPath<RunConfig, Float>, _ value: Double?) {
        guard let value else { return }
        typed[RunConfig.field(keyPath).name] = value
        set(keyPath, Float(value))
    }

    mutating func setOptional(_ keyPath: WritableKeyPath<RunConfig, Float?>, _ value: Double?) {
        guard let value else { return }
        typed[RunConfig.field(keyPath).name] = value
        setOptional(keyPath, Float(value))
    }

    /// The config, or the first flag out of its range as one sentence naming it.
    func checked() throws -> RunConfig {
        for name in RunConfig.fieldNames {
            guard let value = typed[name], let range = RunConfig.ranges[name] else { continue }
            let rounded = Double(Float(value)), flag = RunConfig.field(named: name)?.flag ?? name
            if !range.contains(value) { throw ConfigError("\(flag) must be \(range.requirement), got \(value).") }
            if !range.contains(rounded) {
                throw ConfigError("\(flag) must be \(range.requirement), got \(value), which is \(Float(value)) as the 32-bit float the run computes with.")
            }
        }
        if let problem = try config.rangeProblem(fields: given, name: { RunConfig.field(named: $0)?.flag ?? $0 }) {
            throw ConfigError(problem + ".")
        }
        return config
    }
}

/// A group of flags for one section of `RunConfig`.
protocol SectionOptions: ParsableArguments {
    func apply(to settings: inout FlagSettings)
}
