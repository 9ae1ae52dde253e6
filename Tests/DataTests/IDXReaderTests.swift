import Data
import Foundation
import TestSupport
import XCTest

final class IDXReaderTests: XCTestCase {
    func testParsesPlainAndGzipFilesIdentically() throws {
        for gzip in [false, true] {
            let directory = try makeTemporaryDirectory(self)
            let (train, test) = try writeTinyIDXDataset(in: directory, gzip: gzip)
            let split = try loadDataset(.mnist, directory: directory)
            XCTAssertEqual(split.train.count, 5)
            XCTAssertEqual(split.test.count, 3)
            XCTAssertEqual([split.train.channels, split.train.height, split.train.width], [1, 3, 2])
            XCTAssertEqual(split.train.classes, 10)
            XCTAssertEqual(split.train.labels, train.labels.map(Int32.init))
            XCTAssertEqual(split.test.labels, test.labels.map(Int32.init))
            // Pixels come back in file order (undoing the normalization; 1e-3 of a grey level).
            let m = split.normalization.mean[0], s = split.normalization.std[0]
            let restored = split.train.images.map { ($0 * s + m) * 255 }
            assertClose(restored, train.pixels.map(Float.init), relative: 0, absolute: 1e-3)
        }
    }

    func testAcceptsUncompressedNameWhenGzipIsAbsent() throws {
        let directory = try makeTemporaryDirectory(self)
        let tiny = TinyIDX(count: 4)
        try writeFile(tiny.imageFile, "train-images-idx3-ubyte", in: directory)
        try writeFile(tiny.labelFile, "train-labels-idx1-ubyte.gz", in: directory, gzip: true)
        try writeFile(tiny.imageFile, "t10k-images-idx3-ubyte.gz", in: directory, gzip: true)
        try writeFile(tiny.labelFile, "t10k-labels-idx1-ubyte", in: directory)
        XCTAssertEqual(try loadDataset(.fashionMNIST, directory: directory).train.count, 4)
    }

    func testTruncatedImageFileNamesFileAndSizes() throws {
        for gzip in [false, true] {
            let directory = try makeTemporaryDirectory(self)
            _ = try writeTinyIDXDataset(in: directory, gzip: gzip)
            let name = "train-images-idx3-ubyte" + (gzip ? ".gz" : "")
            try writeFile(Array(TinyIDX(count: 5).imageFile.dropLast(4)), name, in: directory, gzip: gzip)
            assertThrowsDataError([name, "is truncated: expected 30 bytes of image data, found 26"]) {
                try loadDataset(.mnist, directory: directory)
            }
        }
    }

    func testTruncatedGzipStreamIsAnError() throws {
        let directory = try makeTemporaryDirectory(self)
        _ = try writeTinyIDXDataset(in: directory, gzip: true)
        let path = directory + "/t10k-labels-idx1-ubyte.gz"
        let whole = try [UInt8](Foundation.Data(contentsOf: URL(fileURLWithPath: path)))
        try writeFile(Array(whole.prefix(whole.count - 10)), "t10k-labels-idx1-ubyte.gz", in: directory)
        assertThrowsDataError(["t10k-labels-idx1-ubyte.gz", "truncated"]) { try loadDataset(.mnist, directory: directory) }
    }

    func testTrailingBytesAreAnError() throws {
        let directory = try makeTemporaryDirectory(self)
        _ = try writeTinyIDXDataset(in: directory, gzip: false)
        try writeFile(TinyIDX(count: 3).labelFile + [0], "t10k-labels-idx1-ubyte", in: directory)
        assertThrowsDataError(["t10k-labels-idx1-ubyte", "expected 3 bytes of label data, found 4"]) {
            try loadDataset(.mnist, directory: directory)
        }
    }

    func testWrongMagicNamesFileAndMagic() throws {
        let directory = try makeTemporaryDirectory(self)
        _ = try writeTinyIDXDataset(in: directory, gzip: false)
        // A label file where an image file belongs.
        try writeFile(TinyIDX(count: 5).labelFile, "train-images-idx3-ubyte", in: directory)
        assertThrowsDataError(["train-images-idx3-ubyte", "magic", "0x00000801", "0x00000803"]) {
            try loadDataset(.mnist, directory: directory)
        }
    }

    func testOutOfRangeLabelNamesFileIndexAndValue() throws {
        let directory = try makeTemporaryDirectory(self)
        _ = try writeTinyIDXDataset(in: directory, gzip: true)
        let labels = idxBytes(magic: 0x801, dimensions: [3], payload: [1, 2, 12])
        try writeFile(labels, "t10k-labels-idx1-ubyte.gz", in: directory, gzip: true)
        assertThrowsDataError(["t10k-labels-idx1-ubyte.gz", "index 2", "is 12"]) {
            try loadDataset(.mnist, directory: directory)
        }
    }

    func testImageAndLabelCountsMustAgree() throws {
        let directory = try makeTemporaryDirectory(self)
        _ = try writeTinyIDXDataset(in: directory, gzip: false)
        try writeFile(TinyIDX(count: 4).labelFile, "train-labels-idx1-ubyte", in: directory)
        assertThrowsDataError(["train-images-idx3-ubyte", "5 images", "train-labels-idx1-ubyte", "4 labels"]) {
            try loadDataset(.mnist, directory: directory)
        }
    }

    func testTrainAndTestImageSizesMustAgree() throws {
        let directory = try makeTemporaryDirectory(self)
        _ = try writeTinyIDXDataset(in: directory, gzip: false)
        var wide = TinyIDX(count: 3)
        wide.cols = 4
        try writeFile(wide.imageFile, "t10k-images-idx3-ubyte", in: directory)
        assertThrowsDataError(["3×2", "3×4"]) { try loadDataset(.mnist, directory: directory) }
    }

    /// IDX files may declare 0 items; a split of none would train on nothing or evaluate to NaN.
    func testEmptySplitsNameTheirFiles() throws {
        for (prefix, split) in [("t10k", "test"), ("train", "training")] {
            for gzip in [false, true] {
                let directory = try makeTemporaryDirectory(self)
                _ = try writeTinyIDXDataset(in: directory, gzip: gzip)
                let suffix = gzip ? ".gz" : ""
                try writeFile(TinyIDX(count: 0).imageFile, "\(prefix)-images-idx3-ubyte" + suffix, in: directory, gzip: gzip)
                try writeFile(TinyIDX(count: 0).labelFile, "\(prefix)-labels-idx1-ubyte" + suffix, in: directory, gzip: gzip)
                assertThrowsDataError(["the \(split) split is empty", "\(prefix)-images-idx3-ubyte\(suffix) holds no samples"]) {
                    try loadDataset(.mnist, directory: directory)
                }
            }
        }
    }
}
