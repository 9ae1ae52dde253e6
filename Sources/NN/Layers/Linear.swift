import Tensor

/// Fully connected layer on [in, N] activations: y = W·x + b with W [out, in] and b [out], as
/// PyTorch's `nn.Linear`.
public final class Linear: Layer {
    public let inFeatures: Int, outFeatures: Int
    public var needsInputGradient = true
    /// Initialise as the final classifier of Goyal et al. (N(0, 0.01²)) rather than He init.
    public let isClassifier: Bool
    private var weightOffset = 0, biasOffset = 0
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    private var workspace: Workspace?

    public init(_ inFeatures: Int, _ outFeatures: Int, classifier: Bool = false) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        isClassifier = classifier
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        weightOffset = parameters.append(name: joinName(prefix, "weight"), shape: [outFeatures, inFeatures],
                                         role: .linearWeight,
                                         initializer: isClassifier ? .normal(standardDeviation: 0.01) : nil)
        biasOffset = parameters.append(name: joinName(prefix, "bias"), shape: [outFeatures], role: .bias)
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c * x.h * x.w == inFeatures, "Linear expects \(inFeatures) features, got \(x)")
        return Shape(outFeatures, x.n)
    }

    public func flops(for x: Shape) -> Int { 2 * inFeatures * outFeatures }

    /// The GEMMs are split over output rows across the workspace's threads.
    public func use(_ workspace: Workspace) { self.workspace = workspace }

    /// Output-row ranges of a GEMM with `columns` columns and inner dimension `k`, in parallel
    /// when each part is worth at least ~0.5 MFLOP.
    private func forEachRowRange(_ rows: Int, columns: Int, k: Int, _ body: (Range<Int>) -> Void) {
        workspace.forEachRange(rows, minimum: max(16, 256 * 1024 / max(1, columns * k)), alignment: 16, body)
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        input = x
        let n = x.shape.n
        output.reshape(outputShape(for: x.shape))
        let bias = r.parameters + biasOffset, w = r.parameters + weightOffset, y = output.pointer
        // y[out, N] = b + W[out, in] · x[in, N]: the bias as the GEMM's starting value.
        forEachRowRange(outFeatures, columns: n, k: inFeatures) { rows in
            for o in rows { (y + o * n).update(repeating: bias[o], count: n) }
            BLAS.gemm(m: rows.count, n: n, k: inFeatures, a: w + rows.lowerBound * inFeatures, lda: inFeatures,
                      b: x.pointer, ldb: n, beta: 1, c: y + rows.lowerBound * n, ldc: n)
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        let n = dy.shape.n
        let w = r.parameters + weightOffset, dW = r.gradients + weightOffset, db = r.gradients + biasOffset
        let g = dy.pointer, x = input.pointer
        // dW[out, in] += dy[out, N] · xᵀ, db += Σ_N dy
        forEachRowRange(outFeatures, columns: inFeatures, k: n) { rows in
            BLAS.gemm(transB: true, m: rows.count, n: inFeatures, k: n, a: g + rows.lowerBound * n, lda: n,
                      b: x, ldb: n, beta: 1, c: dW + rows.lowerBound * inFeatures, ldc: inFeatures)
            for o in rows { db[o] += Vector.sum(g + o * n, count: n) }
        }
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        let dx = inputGradient.pointer
        // dx[in, N] = Wᵀ[in, out] · dy
        forEachRowRange(inFeatures, columns: n, k: outFeatures) { rows in
            BLAS.gemm(transA: true, m: rows.count, n: n, k: outFeatures, a: w + rows.lowerBound, lda: inFeatures,
                      b: g, ldb: n, c: dx + rows.lowerBound * n, ldc: n)
        }
        return inputGradient
    }
}
