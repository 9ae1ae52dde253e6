import Data
import TestSupport
import XCTest

final class CIFARReaderTests: XCTestCase {
    /// A record: `labelBytes` then 3072 pixels where pixel (c, i) = (label + 5c + i) mod 256.
    private func record(labels: [UInt8]) -> [UInt8] {
        let label = Int(labels.last!)
        return labels + (0..<3072).map { UInt8((label + 5 * ($0 / 1024) + $0 % 1024) % 256) }
    }

    private func writeCIFAR10(in directory: String, testLabels: [UInt8] = [9, 0]) throws {
        for b in 1...5 {
            try writeFile(record(labels: [UInt8(b)]) + record(labels: [UInt8(b + 4)]), "data_batch_\(b).bin", in: directory)
        }
        try writeFile(testLabels.flatMap { record(labels: [$0]) }, "test_batch.bin", in: directory)
    }

    func testCIFAR10InStandardSubfolder() throws {
        let root = try makeTemporaryDirectory(self)
        let directory = root + "/cifar-10-batches-bin"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeCIFAR10(in: directory)
        let split = try loadDataset(.cifar10, directory: root)
        XCTAssertEqual(split.train.count, 10)
        XCTAssertEqual(split.test.count, 2)
        XCTAssertEqual([split.train.channels, split.train.height, split.train.width, split.train.classes], [3, 32, 32, 10])
        XCTAssertEqual(split.train.labels, [1, 5, 2, 6, 3, 7, 4, 8, 5, 9])
        XCTAssertEqual(split.test.labels, [9, 0])
        // Sample 1 of the test set, channel 2, pixel 7: (0 + 10 + 7) = 17, through the normalization (1e-5).
        let norm = split.normalization
        XCTAssertEqual(norm.mean.count, 3)
        let expected = (Float(17) / 255 - norm.mean[2]) / norm.std[2]
        assertClose(split.test.images[3072 + 2 * 1024 + 7], expected, relative: 1e-5, absolute: 1e-5)
    }

    func testCIFAR100UsesFineLabelsAndAcceptsFilesDirectly() throws {
        let directory = try makeTemporaryDirectory(self)
        try writeFile(record(labels: [3, 42]) + record(labels: [19, 99]), "train.bin", in: directory)
        try writeFile(record(labels: [0, 7]), "test.bin", in: directory, gzip: true)
        try FileManager.default.moveItem(atPath: directory + "/test.bin", toPath: directory + "/test.bin.gz")
        let split = try loadDataset(.cifar100, directory: directory)
        XCTAssertEqual(split.train.labels, [42, 99])
        XCTAssertEqual(split.test.labels, [7])
        XCTAssertEqual(split.train.classes, 100)
    }

    func testSizeNotAMultipleOfTheRecordIsTruncated() throws {
        let directory = try makeTemporaryDirectory(self)
        try writeCIFAR10(in: directory)
        try writeFile(Array(record(labels: [1]).dropLast()), "data_batch_3.bin", in: directory)
        assertThrowsDataError(["data_batch_3.bin", "truncated", "3072 bytes"]) { try loadDataset(.cifar10, directory: directory) }
    }

    func testLabelOutOfRangeNamesFileAndRecord() throws {
        let directory = try makeTemporaryDirectory(self)
        try writeCIFAR10(in: directory, testLabels: [1, 2, 10])
        assertThrowsDataError(["test_batch.bin", "record 2", "label 10"]) { try loadDataset(.cifar10, directory: directory) }
    }

    func testMissingBatchSaysWhatToDownload() throws {
        let directory = try makeTemporaryDirectory(self)
        try writeCIFAR10(in: directory)
        try FileManager.default.removeItem(atPath: directory + "/data_batch_4.bin")
        assertThrowsDataError(["data_batch_4.bin", "missing", "binary version", "--data-dir"]) {
            try loadDataset(.cifar10, directory: directory)
        }
    }

    /// An empty test split would be evaluated as 0/0 = NaN after every epoch.
    func testEmptySplitsNameTheirFiles() throws {
        let directory = try makeTemporaryDirectory(self)
        try writeCIFAR10(in: directory, testLabels: [])
        assertThrowsDataError(["the test split is empty", "test_batch.bin holds no samples"]) {
            try loadDataset(.cifar10, directory: directory)
        }
        try writeCIFAR10(in: directory)
        for b in 1...5 { try writeFile([], "data_batch_\(b).bin", in: directory) }
        assertThrowsDataError(["the training split is empty", "data_batch_1.bin", "data_batch_5.bin hold no samples"]) {
            try loadDataset(.cifar10, directory: directory)
        }
    }
}
