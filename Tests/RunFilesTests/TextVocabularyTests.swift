import Foundation
import TestSupport
import XCTest
@testable import RunFiles

/// `vocabulary.json`: what a text run's token ids stand for, written atomically and read back.
final class TextVocabularyTests: XCTestCase {
    func testVocabularyIsWrittenAsJSONAndReadBack() throws {
        let dir = try makeTemporaryDirectory(self)
        let vocabulary = TextVocabulary(tokens: Array("\n !ab".utf8), contextLength: 64)
        try RunDirectory(path: dir).writeVocabulary(vocabulary)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/vocabulary.json")))
        let fields = try XCTUnwrap(object as? [String: Any])
        XCTAssertEqual(fields["tokens"] as? [Int], [10, 32, 33, 97, 98])
        XCTAssertEqual(fields["context_length"] as? Int, 64)
        XCTAssertEqual(fields["encoding"] as? String, "bytes")
        XCTAssertEqual(try TextVocabulary.read(runDirectory: dir), vocabulary)
        XCTAssertTrue(RunDirectory.runFiles.contains("vocabulary.json"), "a restart removes it with the other run files")
    }

    func testAMissingVocabularyIsASentence() throws {
        let dir = try makeTemporaryDirectory(self)
        XCTAssertThrowsError(try TextVocabulary.read(runDirectory: dir)) {
            XCTAssertTrue("\($0)".contains("vocabulary.json does not exist"), "\($0)")
        }
    }
}
