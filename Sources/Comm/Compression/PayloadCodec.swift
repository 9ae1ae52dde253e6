/// The payload codecs of `--compress` (`none` is the uncompressed fp32 path).
public enum PayloadCodecKind: String, Codable, CaseIterable, Sendable {
    case none, fp16, bf16, int8, topk
}

/// How encoded payloads travel, which decides what the network model charges
/// (`NetworkModel.encodedExchangeSeconds`).
public enum EncodedTraffic: Sendable {
    /// A reduce-scatter then an all-gather of encoded chunks (dense codecs): a ring all-reduce
    /// of the encoded size.
    case reduceScatterAllGather
    /// Every worker receives every other's whole payload (top-k): a ring all-gather.
    case allGather
}

/// A lossy codec C of a flat Float buffer of `count` elements and its decoder D, with the fixed
/// layout every backend shares (so one worker's payload means the same bytes everywhere):
///
/// - `fp16`: IEEE half, round to nearest even, values beyond ±65504 saturate; 2 bytes per element.
/// - `bf16`: the upper 16 bits of the Float, round to nearest even; 2 bytes per element.
/// - `int8`: blocks of `int8Block` (256) elements, each with its fp32 scale s = max|x|/127 and
///   codes round(x/s) to nearest even in −127…127 (Dettmers et al. 2022, blockwise absmax
///   quantization); layout: the scales, then the codes: count + 4·⌈count/256⌉ bytes.
/// - `topk`: per chunk of `topkChunk` (4096) elements, the ⌈ratio·n⌉ largest |x| (ties: lower
///   index first), as ascending UInt32 indices and their exact fp32 values (Aji & Heafield 2017;
///   with error feedback, Stich et al. 2018, *Sparsified SGD with Memory*); layout: all
///   indices, then all values: 8 bytes per kept entry.
///
/// Dense codecs (fp16, bf16, int8) are applied block by block on the `int8Block` grid, so a
/// chunk boundary on that grid never changes an encoding.
public struct PayloadCodec: Equatable, Sendable {
    public let kind: PayloadCodecKind
    /// Top-k: the fraction kept per chunk, in (0, 1].
    public let ratio: Double
    /// Elements per int8 block (one fp32 scale each), and the block grid of every dense codec.
    public static let int8Block = 256
    /// Elements per top-k chunk.
    public static let topkChunk = 4096

    /// Throws a sentence naming `--compress-ratio` when `ratio` is outside (0, 1].
    public init(kind: PayloadCodecKind, ratio: Double = 0.01) throws {
        guard kind != .none else { throw CommError("PayloadCodec: none is the uncompressed path and has no codec.") }
        guard ratio > 0 && ratio <= 1 else {
            throw CommError("--compress-ratio must be greater than 0 and at most 1, got \(ratio)")
        }
        self.kind = kind
        self.ratio = ratio
    }

    public var isDense: Bool { kind != .topk }
    public var traffic: EncodedTraffic { isDense ? .reduceScatterAllGather : .allGather }

    /// Blocks of the dense grid over `count` elements.
    public static func blocks(_ count: Int) -> Int { (count + int8Block - 1) / int8Block }

    /// Entries top-k keeps from a chunk of `n` elements: ⌈ratio·n⌉, at least 1.
    public func kept(chunk n: Int) -> Int {
        guard n > 0 else { return 0 }
        return min(n, max(1, Int((ratio * Double(n)).rounded(.up))))
    }

    /// Entries top-k keeps from `count` elements, over all chunks.
    public func keptEntries(_ count: Int) -> Int {
        let full = count / Self.topkChunk, rest = count % Self.topkChunk
        return full * kept(chunk: Self.topkChunk) + kept(chunk: rest)
    }

    /// Bytes of one encoded payload of `count` elements (what goes on the wire per worker).
    public func encodedBytes(_ count: Int) -> Int {
        switch kind {
        case .none: return 4 * count
        case .fp16, .bf16: return 2 * count
        case .int8: return count + 4 * Self.blocks(count)
        case .topk: return 8 * keptEntries(count)
        }
    }

    /// Bytes between two workers' payloads in an exchange buffer: `encodedBytes` rounded up to
    /// a multiple of 4, so every payload's scales and values are aligned.
    public func slotBytes(_ count: Int) -> Int { (encodedBytes(count) + 3) / 4 * 4 }
}
