/// A run that cannot start or go on, with one sentence saying why and what to change.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
