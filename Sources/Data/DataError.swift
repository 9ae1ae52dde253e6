/// A user-facing failure while loading or planning data: one sentence that names the file,
/// directory or field and says what was expected.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

#if canImport(Foundation)
import Foundation

extension DataError: LocalizedError {
    public var errorDescription: String? { description }
}
#endif
