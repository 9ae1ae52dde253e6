import Data
import TestSupport
import XCTest

final class LoadDatasetTests: XCTestCase {
    func testMissingFashionMNISTDirectorySaysHowToInstall() {
        assertThrowsDataError(["/nonexistent/fashion", "does not exist", "apt-get install dataset-fashion-mnist", "--data-dir"]) {
            try loadDataset(.fashionMNIST, directory: "/nonexistent/fashion")
        }
    }

    func testMissingFileNamesFileAndDirectory() throws {
        let directory = try makeTemporaryDirectory(self)
        _ = try writeTinyIDXDataset(in: directory, gzip: false)
        try FileManager.default.removeItem(atPath: directory + "/t10k-images-idx3-ubyte")
        assertThrowsDataError(["t10k-images-idx3-ubyte", directory, "missing", "dataset-fashion-mnist"]) {
            try loadDataset(.fashionMNIST, directory: directory)
        }
    }

    func testCIFARNeedsADataDirectory() {
        for kind in [DatasetKind.cifar10, .cifar100] {
            assertThrowsDataError(["--data-dir", "binary version"]) { try loadDataset(kind, directory: nil) }
        }
    }

    func testDatasetKindRawValuesAreTheCommandLineNames() {
        XCTAssertEqual(DatasetKind.allCases.map(\.rawValue), ["fashion-mnist", "mnist", "cifar10", "cifar100", "synthetic", "text"])
        XCTAssertEqual(DatasetKind(rawValue: "fashion-mnist"), .fashionMNIST)
    }

    /// The installed Debian package, if present: 60 000 + 10 000 images of 28×28, 10 classes.
    func testLoadsRealFashionMNISTWhenInstalled() throws {
        let directory = "/usr/share/datasets/fashion-mnist"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: directory), "dataset-fashion-mnist is not installed")
        let split = try loadDataset(.fashionMNIST, directory: nil)
        XCTAssertEqual(split.train.count, 60_000)
        XCTAssertEqual(split.test.count, 10_000)
        XCTAssertEqual([split.train.channels, split.train.height, split.train.width], [1, 28, 28])
        XCTAssertEqual(split.train.classes, 10)
        XCTAssertEqual(split.train.images.count, 60_000 * 784)
        XCTAssert(split.train.labels.allSatisfy { (0..<10).contains($0) })
        XCTAssert(split.test.labels.allSatisfy { (0..<10).contains($0) })
        // Fashion-MNIST is balanced: 6 000 training images per class.
        XCTAssertEqual(Dictionary(grouping: split.train.labels, by: { $0 }).mapValues(\.count).values.sorted(),
                       Array(repeating: 6_000, count: 10))
        // Published statistics of the training set: mean 0.2860, std 0.3530 (±1e-3).
        XCTAssertEqual(split.normalization.mean[0], 0.2860, accuracy: 1e-3)
        XCTAssertEqual(split.normalization.std[0], 0.3530, accuracy: 1e-3)
    }
}
