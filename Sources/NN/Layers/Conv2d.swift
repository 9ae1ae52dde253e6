import Tensor

/// 2-D convolution over [C, N, H, W] activations as im2col + one GEMM for the whole batch.
/// Weight [out, in, kh, kw] and optional bias [out], as PyTorch's `nn.Conv2d`.
public final class Conv2d: Layer {
    public let inChannels: Int, outChannels: Int, geometry: ConvGeometry, hasBias: Bool
    public var needsInputGradient = true
    private let workspace: Workspace
    private var weightOffset = 0, biasOffset = 0
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, workspace: Workspace) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        geometry = ConvGeometry(kernel: kernel, stride: stride, padding: padding)
        hasBias = bias
        self.workspace = workspace
    }

    private var patch: Int { inChannels * geometry.kernelH * geometry.kernelW }
    /// 1×1, stride 1, no padding: the input already is its own im2col matrix.
    private var isPointwise: Bool { patch == inChannels && geometry.stride == 1 && geometry.padding == 0 }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        weightOffset = parameters.append(
            name: joinName(prefix, "weight"),
            shape: [outChannels, inChannels, geometry.kernelH, geometry.kernelW], role: .convolutionWeight)
        if hasBias { biasOffset = parameters.append(name: joinName(prefix, "bias"), shape: [outChannels], role: .bias) }
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c == inChannels, "Conv2d expects \(inChannels) channels, got \(x.c)")
        let (oh, ow) = geometry.outputSize(x.h, x.w)
        return Shape(outChannels, x.n, oh, ow)
    }

    public func flops(for x: Shape) -> Int {
        let y = outputShape(for: Shape(x.c, 1, x.h, x.w))
        return 2 * outChannels * patch * y.h * y.w
    }

    /// Columns of the im2col matrix for input `x` (the input itself when pointwise).
    private func columns(of x: Tensor) -> UnsafeMutablePointer<Float> {
        if isPointwise { return x.pointer }
        let y = outputShape(for: x.shape)
        let col = workspace.scratch(patch * y.plane)
        im2col(x.pointer, c: x.shape.c, n: x.shape.n, h: x.shape.h, w: x.shape.w, geometry: geometry, into: col)
        return col
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        input = x
        let ys = outputShape(for: x.shape)
        output.reshape(ys)
        let col = columns(of: x)
        // y[out, N·Ho·Wo] = W[out, patch] · col[patch, N·Ho·Wo]
        BLAS.gemm(m: outChannels, n: ys.plane, k: patch, a: r.parameters + weightOffset, lda: patch,
                  b: col, ldb: ys.plane, c: output.pointer, ldc: ys.plane)
        if hasBias {
            let bias = r.parameters + biasOffset
            for o in 0..<outChannels {
                let row = output.pointer + o * ys.plane
                let b = bias[o]
                for i in 0..<ys.plane { row[i] += b }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        let x = input
        let plane = dy.shape.plane
        let col = columns(of: x)
        // dW[out, patch] += dy[out, P] · colᵀ[P, patch]
        BLAS.gemm(transB: true, m: outChannels, n: patch, k: plane, a: dy.pointer, lda: plane,
                  b: col, ldb: plane, beta: 1, c: r.gradients + weightOffset, ldc: patch)
        if hasBias {
            let db = r.gradients + biasOffset
            for o in 0..<outChannels { db[o] += Vector.sum(dy.pointer + o * plane, count: plane) }
        }
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(x.shape)
        if isPointwise {
            BLAS.gemm(transA: true, m: patch, n: plane, k: outChannels, a: r.parameters + weightOffset, lda: patch,
                      b: dy.pointer, ldb: plane, c: inputGradient.pointer, ldc: plane)
            return inputGradient
        }
        // dcol[patch, P] = Wᵀ · dy, then fold back; the columns are no longer needed, reuse the scratch.
        BLAS.gemm(transA: true, m: patch, n: plane, k: outChannels, a: r.parameters + weightOffset, lda: patch,
                  b: dy.pointer, ldb: plane, c: col, ldc: plane)
        inputGradient.zero()
        col2im(col, c: x.shape.c, n: x.shape.n, h: x.shape.h, w: x.shape.w, geometry: geometry,
               into: inputGradient.pointer)
        return inputGradient
    }
}
