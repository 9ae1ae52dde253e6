import Foundation
import Tensor

/// A split of a character-level corpus as a language model reads it: token ids in corpus
/// order, cut into samples of T = `contextLength` tokens whose T labels are the tokens that
/// follow them (label t of a window is token t + 1).
///
/// Sample i is the window starting at token i·T. With `randomShift` (training) each batch
/// shifts each window by r ∈ [0, T) drawn from the batch's generator, so every epoch sees other
/// windows, and `count` leaves room for the largest shift and its labels: (L − T) / T samples
/// of L tokens, at least 2T tokens for one. Without it (test) windows do not overlap: (L − 1) / T
/// samples, at least T + 1 tokens for one.
public struct TokenWindows: Sendable {
    /// Token ids, L of them, each an index into `vocabulary`.
    public let ids: [UInt8]
    /// T, tokens per sample.
    public let contextLength: Int
    /// Training: shift each window by a random r ∈ [0, T) per batch.
    public let randomShift: Bool
    /// The bytes the ids stand for, ascending: id k is byte `vocabulary[k]`.
    public let vocabulary: [UInt8]
    /// Samples: windows whose tokens and labels fit in `ids` whatever the shift.
    public let count: Int

    public init(ids: [UInt8], contextLength: Int, randomShift: Bool, vocabulary: [UInt8]) {
        precondition(contextLength >= 1, "TokenWindows: context length \(contextLength) below 1")
        precondition(!vocabulary.isEmpty && vocabulary.count <= 256, "TokenWindows: \(vocabulary.count) tokens in the vocabulary")
        self.ids = ids
        self.contextLength = contextLength
        self.randomShift = randomShift
        self.vocabulary = vocabulary
        count = TokenWindows.sampleCount(tokens: ids.count, contextLength: contextLength, randomShift: randomShift)
    }

    /// Samples of a split of `tokens` tokens (0 when too short for one).
    public static func sampleCount(tokens: Int, contextLength t: Int, randomShift: Bool) -> Int {
        randomShift ? max(0, tokens - t) / t : max(0, tokens - 1) / t
    }

    /// Tokens a split needs for one sample: 2T with shifts, T + 1 without.
    public static func minimumTokens(contextLength t: Int, randomShift: Bool) -> Int {
        randomShift ? 2 * t : t + 1
    }

    /// Writes samples `indices` as input [1, N, 1, T] (token (n, t) at n·T + t, its id as a
    /// Float) and their labels (label (n, t) at n·T + t, the id of the token after input (n, t)).
    /// With `randomShift`, one draw r = `rng.nextInt(below: T)` per sample, in batch order,
    /// starts sample i's window at i·T + r. Allocates nothing.
    func fill(indices: ArraySlice<Int>, inputs: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>,
              rng: inout RandomGenerator) {
        let t = contextLength
        ids.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            for (n, index) in indices.enumerated() {
                precondition(index >= 0 && index < count, "fillBatch: index \(index) not in 0..<\(count)")
                let start = index * t + (randomShift ? rng.nextInt(below: t) : 0)
                let window = base + start, input = inputs + n * t, label = labels + n * t
                for k in 0..<t {
                    input[k] = Float(window[k])
                    label[k] = Int32(window[k + 1])
                }
            }
        }
    }
}

extension DataSplit {
    /// The unigram baseline of a text split, in bits per character: the cross-entropy on the
    /// test samples' labels (the tokens test loss is measured on) of the training split's token
    /// frequencies with add-one smoothing, p(v) = (n_v + 1) / (L_train + V). A model that does
    /// not beat it has learnt no more than how often each character occurs. Nil for images.
    public var unigramBitsPerCharacter: Double? {
        guard let train = train.tokens, let test = test.tokens, test.count > 0 else { return nil }
        let vocabularySize = train.vocabulary.count
        var counts = [Int](repeating: 0, count: vocabularySize)
        for id in train.ids { counts[Int(id)] += 1 }
        let denominator = Double(train.ids.count + vocabularySize)
        let bits = counts.map { -log2(Double($0 + 1) / denominator) }
        var total = 0.0
        let scored = test.count * test.contextLength
        for position in 1...scored { total += bits[Int(test.ids[position])] }
        return total / Double(scored)
    }
}

extension DataSplit {
    /// For a text dataset, "text:<bytes>:<FNV-1a 64 of the vocabulary and every token id>": what a
    /// checkpoint records so that `--resume` refuses a corpus that changed since (its path alone
    /// says nothing of its contents). nil for image datasets, whose files a package pins.
    public var textFingerprint: String? {
        guard let train = train.tokens, let test = test.tokens else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in [train.vocabulary, train.ids, test.ids] {
            for byte in part { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            hash = (hash ^ 0xff) &* 0x0000_0100_0000_01b3  // a separator between the parts
        }
        return "text:\(train.ids.count + test.ids.count):" + String(hash, radix: 16)
    }
}
