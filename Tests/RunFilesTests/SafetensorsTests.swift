import Foundation
import TestSupport
import XCTest
@testable import RunFiles

final class SafetensorsTests: XCTestCase {
    private func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> SafetensorsTensor {
        SafetensorsTensor(name: name, dtype: "F32", shape: shape, data: values.withUnsafeBufferPointer {
            Safetensors.floats($0.baseAddress!, count: $0.count)
        })
    }

    /// Bitwise round trip (tolerance 0) of F32 and I64 tensors, a scalar, an empty tensor,
    /// awkward names and metadata that need JSON escaping.
    func testRoundTripIsBitExact() throws {
        let weights = (0..<12).map { Float($0) * 0.37 - 2 }
        let special: [Float] = [-0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                Float(bitPattern: 0x7FC0_1234)]
        let labels: [Int64] = [0, -1, .max, .min, 42]
        let tensors = [
            f32("conv1.weight", [3, 4], weights),
            f32("special \"quoted\" \\ näme", [6], special),
            f32("scalar", [], [3.5]),
            f32("empty", [0, 4], []),
            SafetensorsTensor(name: "labels", dtype: "I64", shape: [5], data: Safetensors.int64s(labels)),
        ]
        let metadata = ["format": "pt", "note": "line1\nline2\t\"q\" ü", "step": "1200"]
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/model.safetensors"
        try Safetensors.write(tensors, metadata: metadata, to: path)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(headerLength % 8, 0, "header must be padded to a multiple of 8")
        let header = String(decoding: bytes[8..<8 + headerLength], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{\"__metadata__\":"))
        XCTAssertEqual(bytes.count, 8 + headerLength + 48 + 24 + 4 + 0 + 40, "tensors stored without gaps")

        let (read, readMetadata) = try Safetensors.read(path: path)
        XCTAssertEqual(readMetadata, metadata)
        XCTAssertEqual(read.count, tensors.count)
        for tensor in tensors { XCTAssertEqual(read[tensor.name], tensor, tensor.name) }
        XCTAssertEqual(try Safetensors.floatArray(read["conv1.weight"]!), weights)
        XCTAssertEqual(try Safetensors.floatArray(read["special \"quoted\" \\ näme"]!).map(\.bitPattern),
                       special.map(\.bitPattern))
        XCTAssertEqual(try Safetensors.int64Array(read["labels"]!), labels)
        XCTAssertEqual(try Safetensors.floatArray(read["empty"]!), [])

        var destination = [Float](repeating: 0, count: 12)
        try Safetensors.copyFloats(read["conv1.weight"]!, to: &destination, count: 12)
        XCTAssertEqual(destination, weights)
        XCTAssertThrowsError(try Safetensors.copyFloats(read["conv1.weight"]!, to: &destination, count: 11))
        XCTAssertThrowsError(try Safetensors.floatArray(read["labels"]!), "I64 is not F32")
    }

    /// The whole file for one tensor, worked out by hand from the format description.
    func testEncodeIsByteExact() throws {
        let data = try Safetensors.encode([f32("a", [2], [1, -2])], metadata: ["k": "v"])
        let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertEqual(header.utf8.count, 79)  // padded with 1 space to 80 = 0x50
        var expected: [UInt8] = [0x50, 0, 0, 0, 0, 0, 0, 0]
        expected += Array(header.utf8) + [UInt8(ascii: " ")]
        expected += [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]  // 1.0f, -2.0f little-endian
        XCTAssertEqual(Array(data), expected)

        // No metadata: no "__metadata__" entry; 8 bytes already a multiple of 8 get no padding.
        let bare = try Safetensors.encode([])
        XCTAssertEqual(Array(bare), [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    func testEncodeRejectsBadTensors() {
        let a = f32("a", [2], [1, 2])
        assertEncodeError([a, f32("a", [1], [3])], contains: "'a' appears twice")
        assertEncodeError([f32("b", [3], [1, 2])], contains: "needs 12")
        assertEncodeError([SafetensorsTensor(name: "c", dtype: "F16", shape: [1], data: Data([0, 0]))],
                          contains: "unsupported dtype 'F16'")
        assertEncodeError([f32("__metadata__", [1], [1])], contains: "reserved")
        assertEncodeError([f32("d", [-1], [])], contains: "negative dimension")
    }

    /// A failed encode never touches the previous checkpoint.
    func testFailedWriteKeepsOldFile() throws {
        let path = try makeTemporaryDirectory(self) + "/ckpt.safetensors"
        try Safetensors.write([f32("a", [1], [7])], to: path)
        XCTAssertThrowsError(try Safetensors.write([f32("a", [1], [1]), f32("a", [1], [2])], to: path))
        XCTAssertEqual(try Safetensors.floatArray(Safetensors.read(path: path).tensors["a"]!), [7])
    }

    private func assertEncodeError(_ tensors: [SafetensorsTensor], contains phrase: String, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.encode(tensors), line: line) { error in
            XCTAssertTrue("\(error)".contains(phrase), "'\(error)' lacks '\(phrase)'", line: line)
        }
    }
}
