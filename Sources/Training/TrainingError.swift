import Data

/// A run that cannot start or go on, with one sentence saying why and what to change.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}


extension DataSplit {
    /// Both splits must hold samples: training on none does nothing, and the accuracy of none
    /// is 0/0, which every epoch would report as NaN.
    func requireSamples() throws {
        for (split, dataset) in [("training", train), ("test", test)] where dataset.count == 0 {
            throw TrainingError("the \(split) split (\(dataset.name)) is empty; a run needs samples in both splits")
        }
    }
}
