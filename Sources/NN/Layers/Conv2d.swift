import Tensor

/// 2-D convolution over [C, N, H, W] activations as im2col + GEMM, a few output rows at a time
/// so that the columns stay in cache. Weight [out, in, kh, kw] and optional bias [out], as
/// PyTorch's `nn.Conv2d`.
public final class Conv2d: Layer {
    public let inChannels: Int, outChannels: Int, geometry: ConvGeometry, hasBias: Bool
    public var needsInputGradient = true
    private var workspace: Workspace
    private var weightOffset = 0, biasOffset = 0
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// Per group of images, dWᵀ [patch, out] of one backward (the GEMM is faster in this
    /// orientation), or for size-preserving convolutions dW′ᵀ [out·kh·kw, in], the gradient of
    /// the flipped kernel.
    private let weightGradientT: FloatBuffer
    /// The flipped, transposed kernel [in, out·kh·kw] of size-preserving convolutions.
    private let flippedWeight: FloatBuffer

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, workspace: Workspace) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        geometry = ConvGeometry(kernel: kernel, stride: stride, padding: padding)
        hasBias = bias
        self.workspace = workspace
        let weights = outChannels * inChannels * kernel * kernel
        weightGradientT = FloatBuffer(count: Conv2d.groups * weights)
        flippedWeight = FloatBuffer(count: geometry.preservesSize ? weights : 0)
    }

    public func use(_ workspace: Workspace) { self.workspace = workspace }

    private var patch: Int { inChannels * geometry.kernelH * geometry.kernelW }
    private var weightCount: Int { outChannels * patch }
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

    /// The batch is split into this many groups of whole images (fewer for smaller batches),
    /// whatever the number of threads: groups run in parallel, each accumulates its own weight-
    /// gradient partial sum, and the sums are added in group order, so results do not depend on
    /// the threads. Whole images keep col2im's writes of different groups apart.
    static let groups = 4

    /// The output lines N·Ho of each group, with the lane running it.
    private func forEachGroup(_ ys: Shape, _ body: (_ group: Int, _ lines: Range<Int>, _ lane: Int) -> Void) {
        let groups = min(Conv2d.groups, ys.n)
        workspace.pool.run(groups) { g, lane in
            body(g, (g * ys.n / groups * ys.h)..<((g + 1) * ys.n / groups * ys.h), lane)
        }
    }

    /// Splits each group's output lines into chunks whose im2col columns (`patch` floats per
    /// column) fit the cache budget, and calls `body(group, rows, isFirstOfGroup, columns)` with
    /// the lane's scratch.
    private func forEachChunk(_ ys: Shape, patch: Int,
                              _ body: (Int, Range<Int>, Bool, UnsafeMutablePointer<Float>) -> Void) {
        let perChunk = max(1, columnBudget / (patch * ys.w))
        forEachGroup(ys) { g, lines, lane in
            let col = workspace.scratch(patch * min(lines.count, perChunk) * ys.w, lane: lane)
            var r = lines.lowerBound
            while r < lines.upperBound {
                let end = min(lines.upperBound, r + perChunk)
                body(g, r..<end, r == lines.lowerBound, col)
                r = end
            }
        }
    }

    /// Floats of im2col columns per chunk (tests lower it to split images across chunks). 32–256 K
    /// are within a few per cent of each other here (2 MB L2); 8 K and whole-batch columns cost 20 %.
    var columnBudget = 64 * 1024

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        input = x
        let xs = x.shape, ys = outputShape(for: xs)
        output.reshape(ys)
        let w = r.parameters + weightOffset, y = output.pointer
        let lineWidth = ys.w
        // With a bias, the output starts as the bias and the GEMM adds to it (OpenBLAS would
        // otherwise make a pass zeroing C for beta = 0, then we a second adding the bias).
        let beta: Float = hasBias ? 1 : 0
        if isPointwise {
            // y[out, N·H·W] = W[out, in] · x[in, N·H·W], a group's columns at a time.
            forEachGroup(ys) { _, lines, _ in
                let columns = lines.count * lineWidth, offset = lines.lowerBound * lineWidth
                fillBias(r, columns: offset..<(offset + columns), plane: ys.plane)
                BLAS.gemm(m: outChannels, n: columns, k: patch, a: w, lda: patch, b: x.pointer + offset, ldb: ys.plane,
                          beta: beta, c: y + offset, ldc: ys.plane)
            }
            return output
        }
        forEachChunk(ys, patch: patch) { _, rows, _, col in
            im2col(x.pointer, c: xs.c, n: xs.n, h: xs.h, w: xs.w, geometry: geometry, rows: rows, into: col)
            let columns = rows.count * lineWidth, offset = rows.lowerBound * lineWidth
            fillBias(r, columns: offset..<(offset + columns), plane: ys.plane)
            BLAS.gemm(m: outChannels, n: columns, k: patch, a: w, lda: patch, b: col, ldb: columns,
                      beta: beta, c: y + offset, ldc: ys.plane)
        }
        return output
    }

    /// y[o, columns] = bias[o] (nothing without a bias).
    private func fillBias(_ r: ReplicaView, columns: Range<Int>, plane: Int) {
        guard hasBias else { return }
        let bias = r.parameters + biasOffset
        for o in 0..<outChannels {
            (output.pointer + o * plane + columns.lowerBound).update(repeating: bias[o], count: columns.count)
        }
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        let xs = input.shape, ys = dy.shape
        if hasBias {
            let db = r.gradients + biasOffset
            for o in 0..<outChannels { db[o] += Vector.sum(dy.pointer + o * ys.plane, count: ys.plane) }
        }
        if needsInputGradient { inputGradient.reshape(xs) }
        let dW = r.gradients + weightOffset, groups = min(Conv2d.groups, ys.n)
        if isPointwise {
            backwardPointwise(dy, r)
            addTransposedWeightGradient(groups: groups, into: dW)
        } else if geometry.preservesSize && needsInputGradient {
            backwardPreservingSize(dy, r)
            addFlippedWeightGradient(groups: groups, into: dW)
        } else {
            backwardGeneral(dy, r)
            addTransposedWeightGradient(groups: groups, into: dW)
        }
        return inputGradient
    }

    /// Group g's weight-gradient partial sum.
    private func partial(_ g: Int) -> UnsafeMutablePointer<Float> { weightGradientT.pointer + g * weightCount }

    /// Per group: dWᵀ [in, out] = x [in, P] · dyᵀ; dx [in, P] = Wᵀ · dy.
    private func backwardPointwise(_ dy: Tensor, _ r: ReplicaView) {
        let plane = dy.shape.plane, lineWidth = dy.shape.w
        forEachGroup(dy.shape) { g, lines, _ in
            let columns = lines.count * lineWidth, offset = lines.lowerBound * lineWidth
            BLAS.gemm(transB: true, m: patch, n: outChannels, k: columns, a: input.pointer + offset, lda: plane,
                      b: dy.pointer + offset, ldb: plane, c: partial(g), ldc: outChannels)
            guard needsInputGradient else { return }
            BLAS.gemm(transA: true, m: patch, n: columns, k: outChannels, a: r.parameters + weightOffset, lda: patch,
                      b: dy.pointer + offset, ldb: plane, c: inputGradient.pointer + offset, ldc: plane)
        }
    }

    /// Per chunk, from one im2col of dy: dx = W′ · col(dy), the input gradient as a convolution of
    /// dy with the flipped, transposed kernel W′ (no col2im, and a GEMM with K = out·kh·kw), and
    /// dW′ᵀ += col(dy) · xᵀ, the weight gradient in W′'s layout (the same sum as col(x) · dyᵀ,
    /// with the shift moved from x to dy), so x needs no second im2col.
    private func backwardPreservingSize(_ dy: Tensor, _ r: ReplicaView) {
        let xs = input.shape, ys = dy.shape
        flipKernel(r.parameters + weightOffset)
        let flippedPatch = outChannels * geometry.kernelH * geometry.kernelW
        let lineWidth = ys.w
        forEachChunk(ys, patch: flippedPatch) { g, rows, first, col in
            let columns = rows.count * lineWidth, offset = rows.lowerBound * lineWidth
            im2col(dy.pointer, c: ys.c, n: ys.n, h: ys.h, w: ys.w, geometry: geometry, rows: rows, into: col)
            // dW′ᵀ [out·kh·kw, in] += col(dy) · x[:, chunk]ᵀ
            BLAS.gemm(transB: true, m: flippedPatch, n: inChannels, k: columns, a: col, lda: columns,
                      b: input.pointer + offset, ldb: xs.plane, beta: first ? 0 : 1, c: partial(g), ldc: inChannels)
            BLAS.gemm(m: inChannels, n: columns, k: flippedPatch, a: flippedWeight.pointer, lda: flippedPatch,
                      b: col, ldb: columns, c: inputGradient.pointer + offset, ldc: xs.plane)
        }
    }

    /// Per chunk: dWᵀ += col(x) · dyᵀ, and col2im(Wᵀ · dy) into dx. (Also for a first layer,
    /// whose col(x) has fewer rows than the col(dy) of the path above when in < out.)
    private func backwardGeneral(_ dy: Tensor, _ r: ReplicaView) {
        let xs = input.shape, ys = dy.shape
        if needsInputGradient { inputGradient.zero() }
        let lineWidth = ys.w
        forEachChunk(ys, patch: patch) { g, rows, first, col in
            let columns = rows.count * lineWidth, offset = rows.lowerBound * lineWidth
            im2col(input.pointer, c: xs.c, n: xs.n, h: xs.h, w: xs.w, geometry: geometry, rows: rows, into: col)
            BLAS.gemm(transB: true, m: patch, n: outChannels, k: columns, a: col, lda: columns,
                      b: dy.pointer + offset, ldb: ys.plane, beta: first ? 0 : 1, c: partial(g), ldc: outChannels)
            guard needsInputGradient else { return }
            BLAS.gemm(transA: true, m: patch, n: columns, k: outChannels, a: r.parameters + weightOffset, lda: patch,
                      b: dy.pointer + offset, ldb: ys.plane, c: col, ldc: columns)
            col2im(col, c: xs.c, n: xs.n, h: xs.h, w: xs.w, geometry: geometry, rows: rows, into: inputGradient.pointer)
        }
    }

    /// W′[c, (o, i, j)] = W[o, c, kh − 1 − i, kw − 1 − j].
    private func flipKernel(_ w: UnsafePointer<Float>) {
        let kh = geometry.kernelH, kw = geometry.kernelW, taps = kh * kw
        let dst = flippedWeight.pointer
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let src = w + (o * inChannels + c) * taps, out = dst + (c * outChannels + o) * taps
                for t in 0..<taps { out[t] = src[taps - 1 - t] }
            }
        }
    }

    /// dW[o, c, i, j] += Σ_g dW′ᵀ_g[(o, kh − 1 − i, kw − 1 − j), c], groups in order.
    private func addFlippedWeightGradient(groups: Int, into dW: UnsafeMutablePointer<Float>) {
        let taps = geometry.kernelH * geometry.kernelW
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let out = dW + (o * inChannels + c) * taps
                for tap in 0..<taps {
                    let at = (o * taps + taps - 1 - tap) * inChannels + c
                    var sum = partial(0)[at]
                    for g in 1..<groups { sum += partial(g)[at] }
                    out[tap] += sum
                }
            }
        }
    }

    /// dW[o, p] += Σ_g dWᵀ_g[p, o], groups in order.
    private func addTransposedWeightGradient(groups: Int, into dW: UnsafeMutablePointer<Float>) {
        let n = patch
        for o in 0..<outChannels {
            let row = dW + o * n
            for p in 0..<n {
                var sum = partial(0)[p * outChannels + o]
                for g in 1..<groups { sum += partial(g)[p * outChannels + o] }
                row[p] += sum
            }
        }
    }
}
