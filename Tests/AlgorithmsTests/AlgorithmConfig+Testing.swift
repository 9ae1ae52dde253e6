import Algorithms

extension AlgorithmConfig {
    /// Settings for a test: the ones it names, the rest plain (no switch, one level, α = 1, β = 0,
    /// statistics averaged, momentum kept).
    static func settings(_ kind: AlgorithmKind, localSteps: Int = 1, groupSize: [Int] = [], globalEvery: [Int] = [],
                         slowmoLr: Float = 1, slowmoMomentum: Float = 0) -> AlgorithmConfig {
        var c = AlgorithmConfig()
        c.kind = kind
        c.localSteps = localSteps
        c.groupSize = groupSize
        c.globalEvery = globalEvery
        c.slowmoLr = slowmoLr
        c.slowmoMomentum = slowmoMomentum
        return c
    }
}
