import Algorithms

extension AlgorithmConfig {
    /// Settings for a test: the ones it names, the rest plain (no switch, one level, α = 1, β = 0,
    /// statistics averaged, momentum kept). A run's defaults are its config's, not these.
    static func settings(_ kind: AlgorithmKind, localSteps: Int = 1, groupSizes: [Int] = [], levelMultipliers: [Int] = [],
                         slowLearningRate: Float = 1, slowMomentum: Float = 0) -> AlgorithmConfig {
        AlgorithmConfig(kind: kind, localSteps: localSteps, switchStep: nil, groupSizes: groupSizes, levelMultipliers: levelMultipliers,
                        slowLearningRate: slowLearningRate, slowMomentum: slowMomentum, slowNesterov: false,
                        batchNormSync: .average, momentumSync: .local)
    }
}
