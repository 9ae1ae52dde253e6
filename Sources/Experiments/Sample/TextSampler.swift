import Config
import Foundation
import NN
import RunFiles
import Tensor

/// Generates text from a trained character-level language model (`--dataset text`): the run's
/// config.json names the model, its vocabulary.json the tokens and the context length T, its
/// weights come from final.safetensors (or any model file with the same tensors).
///
/// Each new token is drawn from softmax(logits / temperature) at the last position of a window
/// of the at most T latest tokens (the model is causal, so the positions after it do not matter),
/// optionally among the `topK` most likely only; the draws come from `seed`, so the same
/// arguments give the same text.
public final class TextSampler {
    public let vocabulary: TextVocabulary
    public let network: Network
    private let replica: Replica
    private let input: Tensor
    private var probabilities: [Float]

    /// Loads the run in `runDirectory` with the weights in `weights` (default: its final.safetensors).
    /// Throws a sentence naming the file or setting that is wrong.
    public init(runDirectory: String, weights: String? = nil) throws {
        let configPath = runDirectory + "/config.json"
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw FileError(path: configPath, description: "\(runDirectory) is not a run directory: it holds no config.json")
        }
        let config = try RunDirectory.savedConfig(configPath)
        guard config.data.dataset == .text else {
            throw ConfigError("\(runDirectory) trained \(config.model.kind.rawValue) on \(config.data.dataset.rawValue); sampling needs a language model trained on --dataset text")
        }
        vocabulary = try TextVocabulary.read(runDirectory: runDirectory)
        let spec = ModelSpec(kind: config.model.kind, shortcut: config.model.shortcut, channels: 1, height: 1,
                             width: vocabulary.contextLength, classes: vocabulary.tokens.count)
        network = try Network(spec)
        replica = Replica(for: network)
        let path = weights ?? runDirectory + "/final.safetensors"
        guard FileManager.default.fileExists(atPath: path) else {
            throw FileError(path: path, description: weights == nil
                ? "\(path) does not exist: the run has not finished (pass --weights with a model file)"
                : "--weights \(path) does not exist")
        }
        try ModelFile.load(path, into: replica, network: network)
        input = Tensor(Shape(1, 1, 1, vocabulary.contextLength))
        probabilities = [Float](repeating: 0, count: vocabulary.tokens.count)
    }

    /// Token ids of `text`'s bytes; a byte the vocabulary lacks is an error naming it.
    public func encode(_ text: String) throws -> [Int] {
        var index = [Int](repeating: -1, count: 256)
        for (id, byte) in vocabulary.tokens.enumerated() { index[Int(byte)] = id }
        return try Array(text.utf8).map { byte in
            guard index[Int(byte)] >= 0 else {
                let shown = byte >= 32 && byte < 127 ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(byte)"
                throw ConfigError("the prompt's \(shown) is not in the model's vocabulary of \(vocabulary.tokens.count) characters")
            }
            return index[Int(byte)]
        }
    }

    /// The text of token ids (bytes; invalid UTF-8 shown as U+FFFD).
    public func decode(_ ids: [Int]) -> String {
        String(decoding: ids.map { vocabulary.tokens[$0] }, as: UTF8.self)
    }

    /// `count` new token ids following `prompt` (ids; may be empty: generation then starts from
    /// the first token id, a newline in a byte vocabulary that has one).
    public func generate(prompt: [Int], count: Int, temperature: Float = 1, topK: Int? = nil, seed: UInt64 = 1) -> [Int] {
        let t = vocabulary.contextLength, v = vocabulary.tokens.count
        let start = vocabulary.tokens.firstIndex(of: 10) ?? 0
        var tokens = prompt.isEmpty ? [start] : prompt
        var rng = RandomGenerator(seed: seed, stream: [Stream.sampling])
        var generated: [Int] = []
        for _ in 0..<count {
            let window = tokens.suffix(t)
            for (i, id) in window.enumerated() { input.pointer[i] = Float(id) }
            for i in window.count..<t { input.pointer[i] = 0 }
            let logits = network.forward(input, replica.view, .evaluation)
            let column = window.count - 1, columns = logits.shape.n
            let next = draw(logits: logits.pointer + column, stride: columns, count: v, temperature: temperature,
                            topK: topK, rng: &rng)
            tokens.append(next)
            generated.append(next)
        }
        return generated
    }

    /// A token id drawn from softmax(z / temperature) over the `topK` largest logits z (every
    /// one when nil); temperature 0 takes the most likely.
    private func draw(logits z: UnsafePointer<Float>, stride: Int, count v: Int, temperature: Float, topK: Int?,
                      rng: inout RandomGenerator) -> Int {
        var best = 0
        for k in 1..<v where z[k * stride] > z[best * stride] { best = k }
        guard temperature > 0 else { return best }
        var threshold = -Float.infinity
        if let topK, topK < v {
            threshold = (0..<v).map { z[$0 * stride] }.sorted(by: >)[max(0, topK - 1)]
        }
        let top = z[best * stride]
        var total: Float = 0
        for k in 0..<v {
            let value = z[k * stride]
            probabilities[k] = value >= threshold ? expf((value - top) / temperature) : 0
            total += probabilities[k]
        }
        var u = rng.nextFloat() * total
        for k in 0..<v {
            u -= probabilities[k]
            if u < 0 { return k }
        }
        return best
    }
}
