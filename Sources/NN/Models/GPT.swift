import Tensor

/// The sizes of a GPT (nanoGPT's `GPTConfig` without dropout and with bias): n_layer blocks of
/// n_embd features in n_head heads; the context length and vocabulary come from the model's
/// input (width T) and classes.
public struct GPTShape: Equatable, Sendable {
    public var layers: Int, heads: Int, features: Int

    public init(layers: Int, heads: Int, features: Int) {
        self.layers = layers
        self.heads = heads
        self.features = features
    }

    /// The sizes of `kind`, nil for a model that is not a GPT.
    public init?(_ kind: ModelKind) {
        switch kind {
        case .gptTiny: self.init(layers: 4, heads: 4, features: 128)
        case .gptMini: self.init(layers: 2, heads: 4, features: 64)
        case .gptMicro: self.init(layers: 2, heads: 2, features: 32)
        default: return nil
        }
    }
}

/// GPT-2 (Radford et al. 2019) as nanoGPT's `GPT`, for token sequences [1, N, 1, T] and logits
/// [vocabulary, N·T]: embedding (token + position), the blocks, `ln_f`, and the head tied to the
/// token embedding. Names are nanoGPT's `state_dict` keys (`transformer.wte.weight`,
/// `transformer.h.0.ln_1.weight`, …, `transformer.ln_f.bias`); `lm_head.weight` is
/// `transformer.wte.weight` and is not stored again.
func gpt(_ shape: GPTShape, vocabulary: Int, contextLength: Int) -> Sequential {
    let embedding = Embedding(vocabulary: vocabulary, contextLength: contextLength, features: shape.features)
    let blocks: [(String, Layer)] = (0..<shape.layers).map { i in
        ("\(i)", TransformerBlock(features: shape.features, heads: shape.heads, contextLength: contextLength,
                                  layers: shape.layers))
    }
    let transformer = Sequential([("", embedding), ("h", Sequential(blocks)), ("ln_f", LayerNorm(shape.features))])
    return Sequential([("transformer", transformer), ("lm_head", TiedHead(tiedTo: embedding))])
}

/// The GPT of `spec`, or a sentence saying why its input is not a token sequence.
func gpt(_ spec: ModelSpec) throws -> Sequential {
    guard let shape = GPTShape(spec.kind) else {
        throw ModelError(description: "\(spec.kind.rawValue) is not a GPT")
    }
    guard spec.channels == 1, spec.height == 1 else {
        throw ModelError(description: "\(spec.kind.rawValue) reads token sequences: its input must be 1 channel of height 1 and width the context length, got \(spec.channels)×\(spec.height)×\(spec.width)")
    }
    guard shape.features % shape.heads == 0 else {
        throw ModelError(description: "\(spec.kind.rawValue): \(shape.features) features do not split into \(shape.heads) heads")
    }
    return gpt(shape, vocabulary: spec.classes, contextLength: spec.width)
}
