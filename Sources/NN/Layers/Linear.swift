import Tensor

/// Fully connected layer on [in, N] activations: y = W·x + b with W [out, in] and b [out], as
/// PyTorch's `nn.Linear`.
public final class Linear: Layer {
    public let inFeatures: Int, outFeatures: Int
    public var needsInputGradient = true
    /// Initialise as the final classifier of Goyal et al. (N(0, 0.01²)) rather than He init.
    public let isClassifier: Bool
    /// The weight's initializer, when not the default (He for hidden layers, N(0, 0.01²) for a classifier).
    public let weightInitializer: SlotInitializer?
    private var weightOffset = 0, biasOffset = 0
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

    public init(_ inFeatures: Int, _ outFeatures: Int, classifier: Bool = false,
                weightInitializer: SlotInitializer? = nil) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        isClassifier = classifier
        self.weightInitializer = weightInitializer
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        weightOffset = parameters.append(name: joinName(prefix, "weight"), shape: [outFeatures, inFeatures],
                                         role: .linearWeight,
                                         initializer: weightInitializer
                                             ?? (isClassifier ? .normal(standardDeviation: 0.01) : nil))
        biasOffset = parameters.append(name: joinName(prefix, "bias"), shape: [outFeatures], role: .bias)
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c * x.h * x.w == inFeatures, "Linear expects \(inFeatures) features, got \(x)")
        return Shape(outFeatures, x.n)
    }

    public func flops(for x: Shape) -> Int { 2 * inFeatures * outFeatures }

    /// Runs `parts` on ranges of `count` output rows (or columns) of a GEMM (`Split.gemmOutput`).
    private func run(_ parts: Parts<Call>, _ count: Int, other: Int, k: Int, _ r: ReplicaView, _ dy: Tensor?,
                     _ context: StepContext) {
        let split = Split.gemmOutput(count, other: other, k: k)
        parts.run(split.parts, Call(r: r, dy: dy, split: split), context)
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(outputShape(for: x.shape))
        run(forwardRows, outFeatures, other: x.shape.n, k: inFeatures, r, nil, context)
        return output
    }

    /// y[rows, N] = b[rows] + W[rows, in] · x[in, N]: the bias as the GEMM's starting value.
    private func forward(rows: Range<Int>, _ r: ReplicaView) {
        let n = input.shape.n, bias = r.parameters + biasOffset, y = output.pointer
        for o in rows { (y + o * n).update(repeating: bias[o], count: n) }
        gemmNN(m: rows.count, n: n, k: inFeatures, a: r.parameters + weightOffset + rows.lowerBound * inFeatures,
               lda: inFeatures, b: input.pointer, ldb: n, beta: 1, c: y + rows.lowerBound * n, ldc: n)
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        let n = dy.shape.n, db = r.gradients + biasOffset
        for o in 0..<outFeatures { db[o] += Vector.sum(dy.pointer + o * n, count: n) }
        run(weightGradientColumns, inFeatures, other: outFeatures, k: n, r, dy, context)
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        run(inputGradientRows, inFeatures, other: dy.shape.n, k: outFeatures, r, dy, context)
        return inputGradient
    }

    /// dW[:, columns] += dy[out, N] · x[columns, N]ᵀ (split by input features: each part packs
    /// all of dy, which is smaller than x).
    private func weightGradient(columns: Range<Int>, _ r: ReplicaView, _ dy: Tensor) {
        let n = dy.shape.n, dW = r.gradients + weightOffset
        BLAS.gemm(transB: true, m: outFeatures, n: columns.count, k: n, a: dy.pointer, lda: n,
                  b: input.pointer + columns.lowerBound * n, ldb: n, beta: 1, c: dW + columns.lowerBound,
                  ldc: inFeatures)
    }

    /// dx[rows, N] = Wᵀ[rows, out] · dy.
    private func computeInputGradient(rows: Range<Int>, _ r: ReplicaView, _ dy: Tensor) {
        let n = dy.shape.n
        BLAS.gemm(transA: true, m: rows.count, n: n, k: outFeatures, a: r.parameters + weightOffset + rows.lowerBound,
                  lda: inFeatures, b: dy.pointer, ldb: n, c: inputGradient.pointer + rows.lowerBound * n, ldc: n)
    }
}
