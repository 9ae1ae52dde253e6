extension AlgorithmConfig {
    /// H at each iteration under `--local-steps` (constant or schedule), the schedule's points
    /// resolved to iterations of `stepsPerEpoch`; throws when they do not increase.
    func baseLocalSteps(stepsPerEpoch: Int) throws -> (Int) -> Int {
        guard let points = localStepsSchedule else { return { [localSteps] _ in localSteps } }
        var starts: [Int] = []
        for (i, p) in points.enumerated() {
            let start = p.iteration(stepsPerEpoch: stepsPerEpoch)
            if i > 0, start <= starts[i - 1] {
                throw StrategyError("--local-steps schedule points must increase: \(p) (iteration \(start)) does not come after \(points[i - 1]) (iteration \(starts[i - 1])) at \(stepsPerEpoch) iterations per epoch")
            }
            starts.append(start)
        }
        let hs = points.map(\.localSteps)
        return { step in
            var i = starts.count - 1
            while starts[i] > step { i -= 1 }
            return hs[i]
        }
    }

    /// The averages of the local phase from `firstStep` under a schedule or QSR (nil for a
    /// constant H): QSR reads the run's learning rate `learningRate(step)` and warm-up length.
    func makeAveragingSchedule(firstStep: Int, stepsPerEpoch: Int, totalSteps: Int?, learningRate: ((Int) -> Float)?,
                           warmupSteps: Int) throws -> AveragingSchedule? {
        guard hasVaryingLocalSteps else { return nil }
        guard let total = totalSteps, total >= 1 else {
            throw StrategyError("a --local-steps schedule or --qsr-alpha needs the run's length in iterations")
        }
        let base = try baseLocalSteps(stepsPerEpoch: stepsPerEpoch)
        guard let alpha = qsrAlpha else { return AveragingSchedule(firstStep: firstStep, totalSteps: total, localSteps: base) }
        guard let rate = learningRate else { throw StrategyError("--qsr-alpha needs the run's learning-rate schedule") }
        let rule = QuadraticSynchronizationRule(alpha: alpha, warmupSteps: warmupSteps)
        return AveragingSchedule(firstStep: firstStep, totalSteps: total) { s in
            rule.localSteps(step: s, rate: rate(s), base: base(s))
        }
    }
}
