import CZlib
import Data
import Foundation
import TestSupport
import XCTest

/// A fresh temporary directory, removed at the end of the test.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "DataTests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Writes `bytes` to `directory/name`, gzip-compressed through zlib when `gzip` is true.
@discardableResult
func writeFile(_ bytes: [UInt8], _ name: String, in directory: String, gzip: Bool = false) throws -> String {
    let path = directory + "/" + name
    if gzip {
        guard let file = gzopen(path, "wb") else { throw TestFileError("gzopen failed for \(path)") }
        let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        guard gzclose(file) == Z_OK, Int(written) == bytes.count else { throw TestFileError("gzwrite failed") }
    } else {
        guard FileManager.default.createFile(atPath: path, contents: Foundation.Data(bytes)) else {
            throw TestFileError("cannot write \(path)")
        }
    }
    return path
}

struct TestFileError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// IDX file bytes: big-endian magic and dimensions, then the payload.
func idxBytes(magic: UInt32, dimensions: [Int], payload: [UInt8]) -> [UInt8] {
    func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    return bigEndian(magic) + dimensions.flatMap { bigEndian(UInt32($0)) } + payload
}

/// A tiny MNIST-like split: `count` images of rows×cols with pixel (n, i) = (7n + 3i) mod 256.
struct TinyIDX {
    var count: Int
    var rows = 3
    var cols = 2
    var pixels: [UInt8] { (0..<(count * rows * cols)).map { UInt8((7 * ($0 / (rows * cols)) + 3 * ($0 % (rows * cols))) % 256) } }
    var labels: [UInt8] { (0..<count).map { UInt8($0 % 10) } }
    var imageFile: [UInt8] { idxBytes(magic: 0x803, dimensions: [count, rows, cols], payload: pixels) }
    var labelFile: [UInt8] { idxBytes(magic: 0x801, dimensions: [count], payload: labels) }
}

/// Writes train (5 images) and test (3 images) IDX files with the standard names.
func writeTinyIDXDataset(in directory: String, gzip: Bool) throws -> (train: TinyIDX, test: TinyIDX) {
    let train = TinyIDX(count: 5), test = TinyIDX(count: 3)
    let suffix = gzip ? ".gz" : ""
    try writeFile(train.imageFile, "train-images-idx3-ubyte" + suffix, in: directory, gzip: gzip)
    try writeFile(train.labelFile, "train-labels-idx1-ubyte" + suffix, in: directory, gzip: gzip)
    try writeFile(test.imageFile, "t10k-images-idx3-ubyte" + suffix, in: directory, gzip: gzip)
    try writeFile(test.labelFile, "t10k-labels-idx1-ubyte" + suffix, in: directory, gzip: gzip)
    return (train, test)
}

/// Asserts that `body` throws an error whose description contains every one of `fragments`.
func assertThrowsDataError<T>(
    _ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
) {
    do {
        _ = try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch {
        XCTAssert(error is DataError, "expected a DataError, got \(type(of: error))", file: file, line: line)
        let text = String(describing: error)
        for fragment in fragments where !text.contains(fragment) {
            XCTFail("error \"\(text)\" does not mention \"\(fragment)\"", file: file, line: line)
        }
    }
}
