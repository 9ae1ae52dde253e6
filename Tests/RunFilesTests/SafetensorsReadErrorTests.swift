import Foundation
import TestSupport
import XCTest
@testable import RunFiles

/// Every malformed file is an error whose sentence names the file and the problem.
final class SafetensorsReadErrorTests: XCTestCase {
    private let fileName = "bad.safetensors"

    /// Header length + header text (unpadded) + `data` bytes.
    private func file(_ header: String, data: Int = 0, length: UInt64? = nil) -> Data {
        var bytes = Data()
        withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(header.utf8))
        bytes.append(contentsOf: [UInt8](repeating: 0, count: data))
        return bytes
    }

    private func entry(_ name: String, _ dtype: String = "F32", shape: String = "[1]", offsets: String) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    private func assertRejects(_ bytes: Data, _ phrase: String, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.decode(bytes, file: fileName), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is SafetensorsError, line: line)
            XCTAssertTrue(text.contains("'\(fileName)'"), "'\(text)' does not name the file", line: line)
            XCTAssertTrue(text.contains(phrase), "'\(text)' lacks '\(phrase)'", line: line)
        }
    }

    func testValidFileIsAccepted() throws {
        // The control for the cases below: the same builder with consistent values parses.
        let bytes = file("{\(entry("a", offsets: "[0,4]")),\(entry("b", "I64", shape: "[2]", offsets: "[4,20]"))}", data: 20)
        let (tensors, metadata) = try Safetensors.decode(bytes, file: fileName)
        XCTAssertEqual(tensors["b"]?.shape, [2])
        XCTAssertEqual(tensors["a"]?.data.count, 4)
        XCTAssertEqual(metadata, [:])
    }

    func testTooShortAndBadHeaderLength() {
        assertRejects(Data([1, 2, 3]), "shorter than the 8-byte header length")
        assertRejects(file("{}", length: 100), "header length 100 goes beyond the file size 10")
        assertRejects(file("{}", length: .max), "goes beyond the file size")
    }

    func testHeaderNotJSONObject() {
        assertRejects(file("{not json"), "header is not a JSON object")
        assertRejects(file("[1, 2]"), "header is not a JSON object")
        assertRejects(file("{\"a\": 1} trailing"), "header is not a JSON object")
    }

    func testMissingOrMalformedFields() {
        assertRejects(file(#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, data: 4), "tensor 'a' has no string 'dtype'")
        assertRejects(file(#"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#, data: 4), "tensor 'a' has no 'shape'")
        assertRejects(file(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: 4), "tensor 'a' has no 'data_offsets'")
        assertRejects(file("{\(entry("a", offsets: "[0]"))}", data: 4), "'data_offsets' pair")
        assertRejects(file("{\(entry("a", shape: "[1.5]", offsets: "[0,4]"))}", data: 4), "'shape' list")
        assertRejects(file("{\(entry("a", shape: "[-1]", offsets: "[0,4]"))}", data: 4), "'shape' list")
        assertRejects(file("{\(entry("a", offsets: "[0,true]"))}", data: 4), "'data_offsets' pair")
        assertRejects(file("{\(entry("a", offsets: "[0,4.0]"))}", data: 4), "'data_offsets' pair")
        assertRejects(file(#"{"a":[1]}"#), "tensor 'a' is not an object")
        assertRejects(file(#"{"__metadata__":{"k":1}}"#), "metadata 'k' is not a string")
        assertRejects(file(#"{"__metadata__":["k"]}"#), "'__metadata__' is not an object")
    }

    func testUnsupportedDtype() {
        assertRejects(file("{\(entry("a", "F16", offsets: "[0,2]"))}", data: 2), "tensor 'a': unsupported dtype 'F16'")
    }

    func testOffsetsOutOfRangeOrWrongSize() {
        assertRejects(file("{\(entry("a", offsets: "[0,8]"))}", data: 4), "outside the 4 data bytes")
        assertRejects(file("{\(entry("a", offsets: "[4,0]"))}", data: 4), "outside the 4 data bytes")
        assertRejects(file("{\(entry("a", offsets: "[-4,0]"))}", data: 4), "outside the 4 data bytes")
        assertRejects(file("{\(entry("a", shape: "[2]", offsets: "[0,4]"))}", data: 4),
                      "tensor 'a' has 4 bytes but shape [2] of F32 needs 8")
    }

    func testOverlapsGapsAndTrailingBytes() {
        let overlap = "{\(entry("a", shape: "[2]", offsets: "[0,8]")),\(entry("b", offsets: "[4,8]"))}"
        assertRejects(file(overlap, data: 8), "overlaps")
        assertRejects(file("{\(entry("a", offsets: "[4,8]"))}", data: 8), "gap of 4 bytes before tensor 'a'")
        assertRejects(file("{\(entry("a", offsets: "[0,4]"))}", data: 8), "4 bytes after the last tensor")
    }

    func testDuplicateNames() {
        let header = "{\(entry("a", offsets: "[0,4]")),\(entry("a", offsets: "[4,8]"))}"
        assertRejects(file(header, data: 8), "header names 'a' twice")
        // The same name spelled with an escape is still the same name.
        let escaped = "{\(entry("a", offsets: "[0,4]")),\(entry("\\u0061", offsets: "[4,8]"))}"
        assertRejects(file(escaped, data: 8), "header names 'a' twice")
    }

    func testMissingFileNamesPath() throws {
        let path = try makeTemporaryDirectory(self) + "/missing.safetensors"
        XCTAssertThrowsError(try Safetensors.read(path: path)) { error in
            XCTAssertEqual(error as? FileError,
                           FileError(path: path, description: "cannot read '\(path)': opening failed: No such file or directory."))
        }
        XCTAssertThrowsError(try Safetensors.read(path: NSTemporaryDirectory())) { error in
            XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
        }
    }
}
