import Tensor

/// One pre-LN transformer block of GPT-2 (Radford et al. 2019, §2.3; nanoGPT's `Block`) on
/// hidden activations [D, N·T]: x ← x + attn(ln_1(x)), then x ← x + mlp(ln_2(x)) with
/// mlp = c_fc (D → 4D), GELU (tanh), c_proj (4D → D). No dropout.
///
/// Names as nanoGPT's `state_dict`: `ln_1.weight`, `ln_1.bias`, `attn.c_attn.weight`, …,
/// `ln_2.*`, `mlp.c_fc.weight` [4D, D], `mlp.c_fc.bias`, `mlp.c_proj.weight` [D, 4D],
/// `mlp.c_proj.bias`. nanoGPT starts both c_proj weights at N(0, (0.02/√(2·n_layer))²), the
/// other weights at N(0, 0.02²).
public final class TransformerBlock: Layer {
    public let features: Int
    public let ln1: LayerNorm, attn: CausalSelfAttention, ln2: LayerNorm
    public let mlp: Sequential
    private let afterAttention = Tensor(Shape(0, 0)), output = Tensor(Shape(0, 0))
    private let afterAttentionGradient = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var needsGradient = true
    private let elementwise = Elementwise()

    /// A block of `features` (D) split into `heads`, for sequences of `contextLength`, in a
    /// model of `layers` blocks (which scales the c_proj initialisation).
    public init(features: Int, heads: Int, contextLength: Int, layers: Int) {
        let weight = SlotInitializer.normal(standardDeviation: 0.02)
        let projection = SlotInitializer.normal(standardDeviation: 0.02 / (2 * Float(layers)).squareRoot())
        self.features = features
        ln1 = LayerNorm(features)
        attn = CausalSelfAttention(features: features, heads: heads, contextLength: contextLength,
                                   weightInitializer: weight, projectionInitializer: projection)
        ln2 = LayerNorm(features)
        mlp = Sequential([("c_fc", Linear(features, 4 * features, weightInitializer: weight)), ("", GELU()),
                          ("c_proj", Linear(4 * features, features, weightInitializer: projection))])
    }

    public var needsInputGradient: Bool {
        get { needsGradient }
        set {
            needsGradient = newValue
            ln1.needsInputGradient = newValue
        }
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        ln1.register(prefix: joinName(prefix, "ln_1"), parameters: &parameters, state: &state)
        attn.register(prefix: joinName(prefix, "attn"), parameters: &parameters, state: &state)
        ln2.register(prefix: joinName(prefix, "ln_2"), parameters: &parameters, state: &state)
        mlp.register(prefix: joinName(prefix, "mlp"), parameters: &parameters, state: &state)
    }

    public func outputShape(for x: Shape) -> Shape { attn.outputShape(for: ln1.outputShape(for: x)) }

    /// The sub-layers' FLOPs; the MLP's Linears counted per column (token) of x = [D, T].
    public func flops(for x: Shape) -> Int {
        let mlpFlops = 2 * 2 * features * 4 * features * x.n + mlp.children[1].layer.flops(for: Shape(4 * features, x.n))
        return ln1.flops(for: x) + attn.flops(for: x) + ln2.flops(for: x) + mlpFlops
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        let attended = attn.forward(ln1.forward(x, r, context), r, context)
        afterAttention.reshape(x.shape)
        elementwise.run(.add, x.pointer, attended.pointer, into: afterAttention.pointer, count: x.count, context)
        let transformed = mlp.forward(ln2.forward(afterAttention, r, context), r, context)
        output.reshape(x.shape)
        elementwise.run(.add, afterAttention.pointer, transformed.pointer, into: output.pointer, count: x.count,
                        context)
        return output
    }

    /// dy reaches the block's input through both residual paths: d(after attention) = dy +
    /// ln_2's input gradient, then dx = that + ln_1's.
    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        let throughMLP = ln2.backward(mlp.backward(dy, r, context), r, context)
        afterAttentionGradient.reshape(dy.shape)
        elementwise.run(.add, dy.pointer, throughMLP.pointer, into: afterAttentionGradient.pointer, count: dy.count,
                        context)
        let throughAttention = ln1.backward(attn.backward(afterAttentionGradient, r, context), r, context)
        guard needsGradient else { return inputGradient }
        inputGradient.reshape(dy.shape)
        elementwise.run(.add, afterAttentionGradient.pointer, throughAttention.pointer, into: inputGradient.pointer,
                        count: dy.count, context)
        return inputGradient
    }
}
