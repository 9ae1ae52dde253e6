import Tensor

/// GPT-2's output layer with weights tied to the token embedding (Press & Wolf 2017; nanoGPT's
/// `lm_head`, whose weight *is* `transformer.wte.weight`): logits = wte·h, i.e.
/// logits[v, m] = Σ_d wte[v, d]·h[d, m], no bias, for hidden activations h [D, M] and logits
/// [vocabulary, M].
///
/// It registers no tensor: it reads the embedding's `wte` slot and its backward *adds* into the
/// same gradient slot as the embedding's backward (which runs after it), so the checkpoint holds
/// the weight once, as `transformer.wte.weight` (nanoGPT's `state_dict` minus `lm_head.weight`).
public final class TiedHead: Layer {
    public let embedding: Embedding
    public var needsInputGradient = true
    private var weightOffset: Int { embedding.tokenWeightOffset }
    private var vocabulary: Int { embedding.vocabulary }
    private var features: Int { embedding.features }
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// A call's arguments for the parallel GEMMs: replica, output gradient (nil forward), split.
    private struct Call { let r: ReplicaView, dy: Tensor?, split: Split }
    private lazy var forwardRows = Parts<Call> { [unowned self] call, part, _ in
        self.forward(rows: call.split.range(part), call.r)
    }
    private lazy var weightGradientColumns = Parts<Call> { [unowned self] call, part, _ in
        self.weightGradient(columns: call.split.range(part), call.r, call.dy!)
    }
    private lazy var inputGradientRows = Parts<Call> { [unowned self] call, part, _ in
        self.computeInputGradient(rows: call.split.range(part), call.r, call.dy!)
    }

    /// The head of `embedding`, which must be registered before this layer (it comes first in
    /// the network, so it is).
    public init(tiedTo embedding: Embedding) { self.embedding = embedding }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        precondition(weightOffset >= 0, "TiedHead registered before its Embedding")
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c == features && x.h == 1 && x.w == 1, "TiedHead expects [\(features), M], got \(x)")
        return Shape(vocabulary, x.n)
    }

    /// 2·V·D per column of x = [D, T].
    public func flops(for x: Shape) -> Int { 2 * vocabulary * features * x.n }

    /// Parts of `count` output rows (or columns) of a GEMM (`Split.gemmOutput`, as `Linear`).
    private func run(_ parts: Parts<Call>, _ count: Int, other: Int, k: Int, _ r: ReplicaView, _ dy: Tensor?,
                     _ context: StepContext) {
        let split = Split.gemmOutput(count, other: other, k: k)
        parts.run(split.parts, Call(r: r, dy: dy, split: split), context)
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(outputShape(for: x.shape))
        run(forwardRows, vocabulary, other: x.shape.n, k: features, r, nil, context)
        return output
    }

    /// logits[rows, M] = wte[rows, D]·h[D, M].
    private func forward(rows: Range<Int>, _ r: ReplicaView) {
        let m = input.shape.n
        gemmNN(m: rows.count, n: m, k: features, a: r.parameters + weightOffset + rows.lowerBound * features,
               lda: features, b: input.pointer, ldb: m, c: output.pointer + rows.lowerBound * m, ldc: m)
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        run(weightGradientColumns, features, other: vocabulary, k: dy.shape.n, r, dy, context)
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        run(inputGradientRows, features, other: dy.shape.n, k: vocabulary, r, dy, context)
        return inputGradient
    }

    /// dwte[:, columns] += dlogits[V, M]·h[columns, M]ᵀ.
    private func weightGradient(columns: Range<Int>, _ r: ReplicaView, _ dy: Tensor) {
        let m = dy.shape.n
        BLAS.gemm(transB: true, m: vocabulary, n: columns.count, k: m, a: dy.pointer, lda: m,
                  b: input.pointer + columns.lowerBound * m, ldb: m, beta: 1,
                  c: r.gradients + weightOffset + columns.lowerBound, ldc: features)
    }

    /// dh[rows, M] = wteᵀ[rows, V]·dlogits.
    private func computeInputGradient(rows: Range<Int>, _ r: ReplicaView, _ dy: Tensor) {
        let m = dy.shape.n
        BLAS.gemm(transA: true, m: rows.count, n: m, k: vocabulary, a: r.parameters + weightOffset + rows.lowerBound,
                  lda: features, b: dy.pointer, ldb: m, c: inputGradient.pointer + rows.lowerBound * m, ldc: m)
    }
}
