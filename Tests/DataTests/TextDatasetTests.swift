import Data
import Foundation
import Tensor
import XCTest

final class TextDatasetTests: XCTestCase {
    private func write(_ text: [UInt8], _ name: String, in directory: String) throws {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(text).write(to: URL(fileURLWithPath: path))
    }

    /// A file holding `bytes`, as the corpus of a text dataset with context length `t`.
    private func corpus(_ bytes: [UInt8], contextLength t: Int) throws -> DataSplit {
        let directory = try makeTemporaryDirectory(self)
        try write(bytes, "corpus.txt", in: directory)
        return try loadDataset(.text, directory: directory + "/corpus.txt", contextLength: t)
    }

    /// fillBatch into fresh buffers: inputs [1, N, 1, T] and N·T labels, with a sentinel after them.
    private func batch(_ dataset: Dataset, _ indices: [Int], seed: UInt64) -> (inputs: [Float], labels: [Int32]) {
        let t = dataset.labelsPerSample
        var inputs = [Float](repeating: .nan, count: indices.count * t + 1)
        var labels = [Int32](repeating: -1, count: indices.count * t + 1)
        var rng = RandomGenerator(seed: seed, stream: [Stream.augmentation, 0, 0, 0])
        inputs.withUnsafeMutableBufferPointer { i in
            labels.withUnsafeMutableBufferPointer { l in
                fillBatch(from: dataset, indices: indices[...], images: i.baseAddress!, labels: l.baseAddress!,
                          augmentation: Augmentation(cropPadding: 2, horizontalFlip: true), rng: &rng)
            }
        }
        XCTAssert(inputs.last!.isNaN && labels.last == -1, "fillBatch wrote past N·T")
        return (Array(inputs.dropLast()), Array(labels.dropLast()))
    }

    func testADirectoryIsReadInPathOrderSkippingIndexesAndLinksThatDuplicateOrLeaveIt() throws {
        let root = try makeTemporaryDirectory(self)
        let outside = try makeTemporaryDirectory(self)
        try write(Array("world\n".utf8), "b.txt", in: root)
        try write(Array("hello ".utf8), "a", in: root)
        try write([0, 0, 0, 2, 0xff], "a.dat", in: root)
        try write(Array("!!".utf8), "sub/c", in: root)
        try write(Array("secret".utf8), "elsewhere", in: outside)
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: root + "/a.u8", withDestinationPath: "a")
        try fm.createSymbolicLink(atPath: root + "/again", withDestinationPath: root + "/sub/c")
        try fm.createSymbolicLink(atPath: root + "/out", withDestinationPath: outside + "/elsewhere")
        try fm.createSymbolicLink(atPath: root + "/index", withDestinationPath: "a.dat")
        try fm.createSymbolicLink(atPath: root + "/loop", withDestinationPath: root)
        let corpus = try TextCorpus.read(root)
        XCTAssertEqual(String(decoding: corpus.bytes, as: UTF8.self), "hello world\n!!")
        XCTAssertEqual(corpus.files.map { ($0 as NSString).lastPathComponent }, ["a", "b.txt", "c"])
    }

    func testALinkToAFileNotOtherwiseReadIsRead() throws {
        let root = try makeTemporaryDirectory(self)
        try write(Array("xy".utf8), "sub/data.txt", in: root)
        try FileManager.default.createSymbolicLink(atPath: root + "/sub/data.txt.link", withDestinationPath: "data.txt")
        XCTAssertEqual(String(decoding: try TextCorpus.read(root).bytes, as: UTF8.self), "xy")
    }

    func testVocabularyIsTheSortedDistinctBytesOfTheWholeCorpus() throws {
        // 'z' occurs only in the test split (the last 10 % of 30 bytes) and is still in the vocabulary.
        let text = Array("banana band banana band bananz".utf8)
        XCTAssertEqual(text.count, 30)
        let split = try corpus(text, contextLength: 2)
        XCTAssertEqual(split.train.vocabulary, Array(" abdnz".utf8))
        XCTAssertEqual(split.test.vocabulary, split.train.vocabulary)
        XCTAssertEqual(split.train.classes, 6)
        let ids = split.train.tokens!.ids + split.test.tokens!.ids
        XCTAssertEqual(ids.map { split.train.vocabulary[Int($0)] }, text)
        XCTAssertEqual(Array(ids.prefix(4)), [2, 1, 4, 1])
        XCTAssertTrue(split.normalization.mean.isEmpty, "token ids are not normalized")
    }

    func testTheTestSplitIsTheLastTenPercentOfTheBytes() throws {
        let text = (0..<250).map { UInt8($0) }
        let split = try corpus(text, contextLength: 4)
        // Bytes 0..<250 are their own ids (the vocabulary is all of them, ascending).
        XCTAssertEqual(split.train.tokens!.ids, Array(text[0..<225]))
        XCTAssertEqual(split.test.tokens!.ids, Array(text[225..<250]))
        XCTAssertEqual(split.train.name, "text-train")
        XCTAssertEqual(split.test.name, "text-test")
        XCTAssertEqual([split.train.channels, split.train.height, split.train.width, split.train.labelsPerSample], [1, 1, 4, 4])
        XCTAssertEqual(split.train.count, (225 - 4) / 4)
        XCTAssertEqual(split.test.count, (25 - 1) / 4)
    }

    func testTrainingBatchesAreShiftedWindowsWithTheNextTokensAsLabels() throws {
        let t = 4
        let split = try corpus((0..<200).map { UInt8($0) }, contextLength: t)
        let train = split.train
        XCTAssertEqual(train.count, 44)
        let indices = [43, 0, 7, 43, 20]
        var shifts = Set<Int>()
        for seed in 0..<64 as Range<UInt64> {
            let (inputs, labels) = batch(train, indices, seed: seed)
            XCTAssertEqual(batch(train, indices, seed: seed).inputs, inputs, "not deterministic for seed \(seed)")
            for (n, i) in indices.enumerated() {
                let shift = Int(inputs[n * t]) - i * t
                XCTAssert((0..<t).contains(shift), "shift \(shift) outside [0, \(t))")
                shifts.insert(shift)
                for k in 0..<t {
                    XCTAssertEqual(inputs[n * t + k], Float(i * t + shift + k))
                    XCTAssertEqual(labels[n * t + k], Int32(i * t + shift + k + 1))
                }
            }
        }
        XCTAssertEqual(shifts, Set(0..<t), "every shift in [0, T) occurs")
        XCTAssertNotEqual(batch(train, indices, seed: 1).inputs, batch(train, indices, seed: 2).inputs)
    }

    func testTestBatchesAreNonOverlappingWindowsWithoutShift() throws {
        let split = try corpus((0..<200).map { UInt8($0) }, contextLength: 4)
        XCTAssertEqual(split.test.count, 4)
        let (inputs, labels) = batch(split.test, [0, 1, 2, 3], seed: 9)
        XCTAssertEqual(inputs, (180..<196).map(Float.init))
        XCTAssertEqual(labels, (181..<197).map(Int32.init))
    }

    func testACorpusOfExactlyTheMinimumLengthHasOneTestSampleAndItsLastWindowFits() throws {
        let t = 8
        let text = (0..<(10 * t + 1)).map { UInt8($0) }
        let split = try corpus(text, contextLength: t)
        XCTAssertEqual(split.test.count, 1)
        XCTAssertEqual(split.train.count, 8)  // 72 bytes: (72 − 8) / 8
        for seed in 0..<32 as Range<UInt64> {
            let (inputs, labels) = batch(split.train, [7], seed: seed)
            XCTAssertLessThanOrEqual(labels.last!, 71, "a label beyond the training split")
            XCTAssertEqual(labels, inputs.map { Int32($0) + 1 })
        }
        XCTAssertEqual(batch(split.test, [0], seed: 0).labels, (73...80).map(Int32.init))
        assertThrowsDataError(["80 bytes", "--context-length 8", "at least 81"]) {
            try corpus(Array(text.dropLast()), contextLength: t)
        }
    }

    func testErrorsNameWhatIsWrong() throws {
        assertThrowsDataError(["/nonexistent/corpus", "does not exist", "apt-get install fortunes"]) {
            try loadDataset(.text, directory: "/nonexistent/corpus")
        }
        let onlyIndexes = try makeTemporaryDirectory(self)
        try write([1, 2, 3], "art.dat", in: onlyIndexes)
        assertThrowsDataError([onlyIndexes, "no readable text files", ".dat"]) {
            try loadDataset(.text, directory: onlyIndexes)
        }
        let empty = try makeTemporaryDirectory(self)
        try write([], "one", in: empty)
        try write([], "two", in: empty)
        assertThrowsDataError(["empty", "2 files"]) { try loadDataset(.text, directory: empty) }
        assertThrowsDataError(["empty", "corpus.txt"]) { try corpus([], contextLength: 4) }
        assertThrowsDataError(["40 bytes", "--context-length 64", "at least 641", "lower --context-length"]) {
            try corpus(Array(repeating: 65, count: 40), contextLength: 64)
        }
        assertThrowsDataError(["only one distinct character (byte 65)", "at least two"]) {
            try corpus(Array(repeating: 65, count: 200), contextLength: 4)
        }
    }

    /// Train "aaaaaaaaaaaabbbbbb" (12 a, 6 b), test "abc": V = 3, p(a) = 13/21, p(b) = 7/21,
    /// p(c) = 1/21; the one test sample (T = 2) scores its labels "b" and "c".
    func testUnigramBaselineByHand() throws {
        let split = try corpus(Array("aaaaaaaaaaaabbbbbbabc".utf8), contextLength: 2)
        XCTAssertEqual(split.test.count, 1)
        let expected = (-log2(7.0 / 21) - log2(1.0 / 21)) / 2
        XCTAssertEqual(try XCTUnwrap(split.unigramBitsPerCharacter), expected, accuracy: 1e-12)
    }

    func testImageDatasetsHaveOneLabelPerSampleAndNoVocabulary() throws {
        let split = try loadDataset(.synthetic, directory: nil)
        XCTAssertEqual(split.train.labelsPerSample, 1)
        XCTAssertEqual(split.test.labelsPerSample, 1)
        XCTAssertTrue(split.train.vocabulary.isEmpty)
        XCTAssertNil(split.train.tokens)
        XCTAssertNil(split.unigramBitsPerCharacter)
        XCTAssertEqual(split.train.count, split.train.labels.count)
    }

    /// The installed Debian package, if present: its texts are read, the indexes and links not.
    func testTheFortunesCorpusWhenInstalled() throws {
        guard let directory = DatasetKind.text.defaultDirectory, FileManager.default.fileExists(atPath: directory) else {
            throw XCTSkip("the fortunes package is not installed")
        }
        let split = try loadDataset(.text, directory: nil)
        let bytes = split.train.tokens!.ids.count + split.test.tokens!.ids.count
        XCTAssertEqual(split.test.tokens!.ids.count, bytes - bytes * 9 / 10)
        XCTAssert((64...256).contains(split.train.classes), "vocabulary of \(split.train.classes) bytes")
        XCTAssertEqual(split.train.count, (bytes * 9 / 10 - 64) / 64)
        XCTAssertFalse(try TextCorpus.read(directory).files.contains { $0.hasSuffix(".dat") || $0.hasSuffix(".u8") })
    }
}
