import Foundation
import TestSupport
import XCTest

/// A fresh empty directory under the system temporary directory, removed by the test's teardown.
public func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "localsgd-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock {
        chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }
    return path
}
