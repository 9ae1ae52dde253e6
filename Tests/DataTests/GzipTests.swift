import Data
import Foundation
import TestSupport
import XCTest

/// gzip files as the reference tools take them: `gzip -t` and Python's `gzip` both accept
/// members back to back and zero padding at the end, and nothing else after a member.
final class GzipTests: XCTestCase {
    /// The bytes of `payload` as one gzip member (zlib's gzwrite).
    func gzipMember(_ payload: [UInt8]) throws -> [UInt8] {
        let directory = try makeTemporaryDirectory(self)
        let path = try writeFile(payload, "member.gz", in: directory, gzip: true)
        return try [UInt8](Foundation.Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func writeTestLabels(_ bytes: [UInt8], in directory: String) throws {
        try writeFile(bytes, "t10k-labels-idx1-ubyte.gz", in: directory)
    }

    func testZeroPaddingAndConcatenatedMembersAreAccepted() throws {
        let labels = TinyIDX(count: 3).labelFile
        let padded = try gzipMember(labels) + [UInt8](repeating: 0, count: 512)
        let split = try gzipMember(Array(labels.prefix(5))) + gzipMember(Array(labels.dropFirst(5)))
        let empty = try gzipMember([])
        for (name, file) in [("padded", padded), ("two members", split), ("empty members", empty + split + empty + [0, 0])] {
            let directory = try makeTemporaryDirectory(self)
            _ = try writeTinyIDXDataset(in: directory, gzip: true)
            try writeTestLabels(file, in: directory)
            XCTAssertEqual(try loadDataset(.mnist, directory: directory).test.labels, [0, 1, 2], name)
        }
    }

    func testBytesAfterAMemberThatGzipWouldNotAcceptAreRefused() throws {
        let member = try gzipMember(TinyIDX(count: 3).labelFile)
        let cases: [([UInt8], String)] = [
            (member + Array("xyz".utf8), "neither another gzip member nor zero padding"),
            (member + [0x1f], "neither another gzip member nor zero padding"),
            (member + [0, 0] + member, "after 2 bytes of zero padding"),
            (Array(member.prefix(member.count - 3)), "truncated"),
        ]
        for (file, expected) in cases {
            let directory = try makeTemporaryDirectory(self)
            _ = try writeTinyIDXDataset(in: directory, gzip: true)
            try writeTestLabels(file, in: directory)
            assertThrowsDataError(["t10k-labels-idx1-ubyte.gz", expected]) { try loadDataset(.mnist, directory: directory) }
        }
    }
}
