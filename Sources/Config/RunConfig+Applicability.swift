import Algorithms

extension RunConfig {
    /// Which algorithms read each algorithm-specific field. A field set to anything but its
    /// default on another algorithm would be silently ignored, so it is an error instead, naming
    /// the flag and the algorithms it applies to (the async fields are checked in `validateAsync`).
    static let applicability: [(fields: [String], kinds: [AlgorithmKind], hint: (for: AlgorithmKind, text: String))] = [
        (["slowmo_lr", "slowmo_momentum", "slowmo_nesterov"], [.slowmo], (.diloco, "DiLoCo's outer step is set by --outer-optimizer, --outer-lr and --outer-momentum")),
        (["outer_optimizer", "outer_lr", "outer_momentum", "outer_lr_schedule"], [.diloco], (.slowmo, "SlowMo's outer step is set by --slowmo-lr, --slowmo-momentum and --slowmo-nesterov")),
        (["switch_epoch", "switch_step"], [.postLocal, .hierarchical, .slowmo, .diloco], (.local, "local SGD after a minibatch phase is --algorithm post-local")),
        (["group_size", "global_every"], [.hierarchical, .postLocal, .slowmo, .diloco], (.local, "averaging inside groups is --algorithm hierarchical")),
        (["qsr_alpha"], [.local, .hierarchical, .postLocal, .slowmo, .diloco], (.minibatch, "minibatch SGD reduces gradients every step")),
        (["dynamic_local_steps"], RunConfig.dynamicLocalStepsAlgorithms,
         (.async, "async's nodes take the same steps per round; DyLU scales the local steps of the lockstep periods")),
        (["momentum_sync"], [.local, .hierarchical, .postLocal, .slowmo, .diloco, .async],
         (.minibatch, "minibatch SGD's workers apply the same reduced gradient, so their momentum never differs")),
    ]

    /// Whether this run's algorithm reads `field`: false only for an algorithm-specific field
    /// (see `applicability`) of another algorithm, left at its default. Sweeps leave such fields
    /// out of run names.
    public func reads(_ field: String) -> Bool {
        guard let rule = RunConfig.applicability.first(where: { $0.fields.contains(field) }), !rule.kinds.contains(algorithm.kind),
              let f = RunConfig.field(named: field) else { return true }
        return f.show(self) != f.show(RunConfig())
    }

    /// Throws for an algorithm-specific field given to an algorithm that does not read it, and
    /// for group levels that could never average on their own.
    func validateApplicability() throws {
        let kind = algorithm.kind, defaults = RunConfig()
        for rule in RunConfig.applicability where !rule.kinds.contains(kind) {
            for name in rule.fields {
                guard let field = RunConfig.field(named: name), field.show(self) != field.show(defaults) else { continue }
                let kinds = rule.kinds.map(\.rawValue).joined(separator: ", ")
                throw ConfigError("\(field.flag) applies to --algorithm \(kinds) only (the algorithm is \(kind.rawValue))"
                                  + (rule.hint.for == kind ? "; " + rule.hint.text : ""))
            }
        }
        if kind == .minibatch && algorithm.localStepsSchedule != nil {
            throw ConfigError("a --local-steps schedule applies to algorithms that average weights; minibatch SGD reduces gradients every step")
        }
        let groups = algorithm.groupSize.filter { $0 < algorithm.workers }
        if !groups.isEmpty && algorithm.globalEvery.count < groups.count {
            throw ConfigError("--group-size \(groups.map(String.init).joined(separator: ",")) needs one --global-every factor H_b per group level "
                              + "(groups average every --local-steps H, the next level every H·H_b); a level without one coincides with the next "
                              + "and never averages on its own")
        }
    }
}
