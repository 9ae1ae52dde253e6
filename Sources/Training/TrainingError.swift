import Data
import RunFiles

/// A run that cannot start or go on, with one sentence saying why and what to change.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}


extension DataSplit {
    /// Both splits must hold samples: training on none does nothing, and the accuracy of none
    /// is 0/0, which every epoch would report as NaN.
    package func requireSamples() throws {
        for (split, dataset) in [("training", train), ("test", test)] where dataset.count == 0 {
            throw TrainingError("the \(split) split (\(dataset.name)) is empty; a run needs samples in both splits")
        }
    }
}

/// What to try when training diverges, the end of every such error's sentence.
package let divergenceAdvice = "lower --lr, add --warmup-epochs (large K·B needs warm-up, §3 of the study) or check the data, and start a new run (--out); resuming would repeat the same steps"

extension TrainingError {
    /// Whether `text` (an error printed by a run) says that its training diverged, which the
    /// same config would do again.
    package static func isDivergence(_ text: String) -> Bool { text.contains(divergenceAdvice) }
}

/// A model that is no longer finite `place` ("by epoch 2, step 5"), so `file` was not written.
package func divergenceError(_ finding: FiniteCheck.Finding, place: String, file: String) -> TrainingError {
    TrainingError("the model became non-finite \(place) (\(finding)), so \(file) was not written; \(divergenceAdvice)")
}
