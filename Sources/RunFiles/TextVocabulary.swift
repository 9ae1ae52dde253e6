import Data
import Foundation

/// `vocabulary.json` of a text run: what a token id stands for, so that a model's predictions
/// can be decoded later (sampling). Token id k is the byte `tokens[k]`; inputs are windows of
/// `contextLength` tokens. Written only by runs on a text dataset.
///
/// ```json
/// { "context_length" : 64, "encoding" : "bytes", "tokens" : [ 10, 32, 33, … ] }
/// ```
public struct TextVocabulary: Codable, Equatable, Sendable {
    public static let fileName = "vocabulary.json"
    /// How tokens map to text: "bytes", each token one byte of the corpus.
    public var encoding = "bytes"
    /// Byte of each token id, ascending.
    public var tokens: [UInt8]
    /// T, tokens per sample the model was trained on.
    public var contextLength: Int

    public init(tokens: [UInt8], contextLength: Int) {
        self.tokens = tokens
        self.contextLength = contextLength
    }

    /// The vocabulary of a text dataset, nil for images.
    public init?(_ dataset: Dataset) {
        guard let windows = dataset.tokens else { return nil }
        self.init(tokens: windows.vocabulary, contextLength: windows.contextLength)
    }

    enum CodingKeys: String, CodingKey { case encoding, tokens, contextLength = "context_length" }

    /// Reads `vocabulary.json` of the run in `directory`; a missing or malformed file is a
    /// `FileError` naming it.
    public static func read(runDirectory directory: String) throws -> TextVocabulary {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError(path: path, description: "\(path) does not exist: only runs on --dataset text write a vocabulary")
        }
        do {
            return try JSONDecoder().decode(TextVocabulary.self, from: data)
        } catch {
            throw FileError(path: path, description: "\(path) is not a vocabulary file: \(error.localizedDescription)")
        }
    }
}

extension RunDirectory {
    /// Writes `vocabulary.json` atomically.
    public func writeVocabulary(_ vocabulary: TextVocabulary) throws {
        try AtomicFile.write(RunDirectory.encoder().encode(vocabulary), to: file(TextVocabulary.fileName))
    }
}
