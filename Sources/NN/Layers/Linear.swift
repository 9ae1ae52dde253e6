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

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        input = x
        let n = x.shape.n
        output.reshape(outputShape(for: x.shape))
        let bias = r.parameters + biasOffset
        for o in 0..<outFeatures { (output.pointer + o * n).update(repeating: bias[o], count: n) }
        BLAS.gemm(m: outFeatures, n: n, k: inFeatures, a: r.parameters + weightOffset, lda: inFeatures,
                  b: x.pointer, ldb: n, beta: 1, c: output.pointer, ldc: n)
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        let n = dy.shape.n
        BLAS.gemm(transB: true, m: outFeatures, n: inFeatures, k: n, a: dy.pointer, lda: n,
                  b: input.pointer, ldb: n, beta: 1, c: r.gradients + weightOffset, ldc: inFeatures)
        let db = r.gradients + biasOffset
        for o in 0..<outFeatures { db[o] += Vector.sum(dy.pointer + o * n, count: n) }
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        BLAS.gemm(transA: true, m: inFeatures, n: n, k: outFeatures, a: r.parameters + weightOffset, lda: inFeatures,
                  b: dy.pointer, ldb: n, c: inputGradient.pointer, ldc: n)
        return inputGradient
    }
}
