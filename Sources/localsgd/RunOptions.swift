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
extension ScheduleKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension AlgorithmKind: ExpressibleByArgument {}
extension BatchNormSync: ExpressibleByArgument {}
extension MomentumSync: ExpressibleByArgument {}
extension OuterOptimizerKind: ExpressibleByArgument {}
extension OuterLRSchedule: ExpressibleByArgument {}
extension BackendKind: ExpressibleByArgument {}
extension ReductionMode: ExpressibleByArgument {}
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

    /// The config, or the first flag out of its range as one sentence naming it.
    func checked() throws -> RunConfig {
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
