/// A configuration value of the optimizer or the learning-rate schedule that cannot be used:
/// `field` is the config field's name as written in run
/// files and flags, `description` a sentence a user can act on.
public struct OptimConfigError: Error, Equatable, CustomStringConvertible {
    public let field: String
    public let description: String

    public init(field: String, _ description: String) {
        self.field = field
        self.description = description
    }
}

/// Throws an `OptimConfigError` for `field` unless `condition` holds.
@inline(__always)
func require(_ condition: Bool, field: String, _ sentence: @autoclosure () -> String) throws {
    if !condition { throw OptimConfigError(field: field, sentence()) }
}
