import Foundation
import TestSupport
import XCTest
@testable import Data

/// Reading stops as soon as the data is known to be wrong: a gzip file is inflated no further
/// than its header allows, so a small file that is not what it claims cannot cost gigabytes.
final class ReadingBoundsTests: XCTestCase {
    /// 64 MiB of zeros compress to ~64 KiB; behind a wrong magic none of it may be inflated.
    func testAWrongHeaderStopsTheInflatingAtOnce() throws {
        let directory = try makeTemporaryDirectory(self)
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let path = try writeFile([0, 0, 0x12, 0x34] + zeros, "not-idx.gz", in: directory, gzip: true)
        let file = try DataFileReader(path: path)
        assertThrowsDataError(["not-idx.gz", "magic number is 0x00001234"]) {
            try IDXReader.readArray(file, magic: IDXReader.labelsMagic, kind: "label")
        }
        XCTAssertEqual(file.inflatedCount, 4, "only the magic number")
    }

    /// A header that declares 3 labels, then 64 MiB more: refused after the declared size plus
    /// the margin, not after inflating everything.
    func testInflatingStopsAtTheDeclaredSizePlusAMargin() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = try writeFile(TinyIDX(count: 3).labelFile + [UInt8](repeating: 0, count: 64 << 20), "long.gz",
                                 in: directory, gzip: true)
        let file = try DataFileReader(path: path)
        assertThrowsDataError(["long.gz", "longer than its header says", "expected 3 bytes", "more than"]) {
            try IDXReader.readArray(file, magic: IDXReader.labelsMagic, kind: "label")
        }
        XCTAssertLessThanOrEqual(file.inflatedCount, 8 + 3 + IDXReader.surplusMargin)
    }

    /// A header that declares more than the compressed file could ever inflate to is refused
    /// without inflating the payload.
    func testAnImpossibleDeclaredSizeIsRefusedBeforeInflating() throws {
        let directory = try makeTemporaryDirectory(self)
        let header = idxBytes(magic: 0x803, dimensions: [60000, 28, 28], payload: [])
        let path = try writeFile(header + [1, 2, 3], "images.gz", in: directory, gzip: true)
        let file = try DataFileReader(path: path)
        assertThrowsDataError(["images.gz", "is truncated", "expected 47040000 bytes"]) {
            try IDXReader.readArray(file, magic: IDXReader.imagesMagic, kind: "image")
        }
        XCTAssertEqual(file.inflatedCount, 16, "the header only")
    }

    /// CIFAR has no header: its labels are checked chunk by chunk, so a file that is not CIFAR
    /// stops being inflated after the first chunk.
    func testCIFARStopsAtTheFirstBadChunk() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = try writeFile([UInt8](repeating: 0xff, count: 64 << 20), "data_batch_1.bin.gz", in: directory, gzip: true)
        let file = try DataFileReader(path: path)
        var raw = RawImages(channels: 3, height: 32, width: 32, pixels: [], labels: [])
        assertThrowsDataError(["data_batch_1.bin.gz", "record 0 has label 255"]) {
            try CIFARReader.append(file, layout: CIFARReader.layout(.cifar10), to: &raw)
        }
        XCTAssertLessThanOrEqual(file.inflatedCount, CIFARReader.recordsPerChunk * 3073)
    }
}
