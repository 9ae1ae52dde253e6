import CDirect
import Tensor

/// 2-D convolution over [C, N, H, W] activations as im2col + GEMM, a few hundred output positions
/// at a time so that the columns stay in cache, or, with `use(.onednn)`, by oneDNN where it takes
/// the shape (`OneDNNConvolution`). Weight [out, in, kh, kw] and optional bias [out], as PyTorch's
/// `nn.Conv2d`.
public final class Conv2d: Layer {
    public let inChannels: Int, outChannels: Int, geometry: ConvGeometry, hasBias: Bool
    public var needsInputGradient = true
    private var weightOffset = 0, biasOffset = 0
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// Stride-2 convolutions: the input's phases [4·in, N, Ho, Wo] and their gradients.
    private let phases = Tensor(Shape(0, 0)), phaseGradient = Tensor(Shape(0, 0))
    /// Per group of images, dWᵀ [patch, out] of one backward (the GEMM is faster in this
    /// orientation), or for size-preserving convolutions dW′ᵀ [out·kh·kw, in], the gradient of
    /// the flipped kernel.
    private let weightGradientT: FloatBuffer
    /// The flipped, transposed kernel [in, out·kh·kw] of size-preserving convolutions.
    private let flippedWeight: FloatBuffer
    /// A call's arguments: what its parts do, the replica, the output gradient (nil forward),
    /// the context (for the lanes' scratch) and, for pointwise convolutions, the split of rows.
    private struct Call {
        let pass: Pass, r: ReplicaView, dy: Tensor?, context: StepContext
        var rows = Split(0)
    }
    /// The oneDNN kernel when this layer runs on oneDNN (`use(_:)`).
    private var oneDNN: OneDNNConvolution?
    /// Whether this layer runs our direct kernels (`DirectConvolution`, `use(_:)`): its forward,
    /// and its weight gradient when it computes no input gradient.
    public private(set) var usesDirectKernels = false
    private lazy var imageGroups = Parts<Call> { [unowned self] call, g, lane in self.run(group: g, lane: lane, call) }
    /// Pointwise convolutions need no im2col, so they split their GEMMs by rows instead of image
    /// groups: GEMMs over all columns, and no weight-gradient partial sums.
    private lazy var pointwiseRows = Parts<Call> { [unowned self] call, part, _ in
        call.pass == .forward ? self.forwardPointwise(call.rows.range(part), call.r)
                              : self.backwardPointwise(call.rows.range(part), call.r, call.dy!)
    }

    private enum Pass { case forward, backwardPointwise, backwardPreservingSize, backwardGeneral, directForward,
                        directWeightGradient }

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        geometry = ConvGeometry(kernel: kernel, stride: stride, padding: padding)
        hasBias = bias
        let weights = outChannels * inChannels * kernel * kernel
        weightGradientT = FloatBuffer(count: Conv2d.groups * weights)
        flippedWeight = FloatBuffer(count: geometry.preservesSize ? weights : 0)
    }

    private var patch: Int { inChannels * geometry.kernelH * geometry.kernelW }
    private var weightCount: Int { outChannels * patch }
    /// 1×1, stride 1, no padding: the input already is its own im2col matrix.
    private var isPointwise: Bool { patch == inChannels && geometry.stride == 1 && geometry.padding == 0 }

    /// The kernels of this layer: ours, or oneDNN's where `ConvBackend.onednn` asks for it and
    /// oneDNN takes the shape (3×3, at least 16 input channels, stride 1 or 2), and with it our
    /// direct kernels where they take the shape (`DirectConvolution`: 3×3, stride 1, padding 1, at
    /// most 4 input channels); others stay im2col + GEMM. Throws when oneDNN cannot be used here.
    public func use(_ backend: ConvBackend) throws {
        oneDNN = backend == .onednn && OneDNNConvolution.takes(inChannels: inChannels, geometry: geometry)
            ? try OneDNNConvolution(inChannels, outChannels, geometry: geometry, hasBias: hasBias) : nil
        usesDirectKernels = backend == .onednn && oneDNN == nil
            && DirectConvolution.takes(inChannels: inChannels, geometry: geometry)
    }

    /// Which kernels compute this layer.
    public var backend: ConvBackend { oneDNN == nil ? .blas : .onednn }

    /// The implementations oneDNN chose for the shapes seen so far (empty on ours).
    public var oneDNNImplementations: [String] { oneDNN?.implementations ?? [] }
    /// Whether Winograd kernels compute this layer on input `x` (`WinogradKernels.takes` for one
    /// of the sizes of its image groups, `groupImages`). `kernels`: this process's, or the ones
    /// named (tests check the rules on machines without them).
    public func usesWinograd(input x: Shape, kernels: WinogradKernels? = WinogradKernels.available) -> Bool {
        guard oneDNN != nil, let kernels, x.n > 0 else { return false }
        let (oh, ow) = geometry.outputSize(x.h, x.w)
        return (0..<Conv2d.groupCount(batch: x.n)).contains { g in
            kernels.takes(stride: geometry.stride, padding: geometry.padding, outputHeight: oh, outputWidth: ow,
                          images: Conv2d.groupImages(g, batch: x.n).count)
        }
    }

    /// Input shapes seen so far whose groups' weight gradients oneDNN sums in its blocked format.
    var oneDNNBlockedSums: Int { oneDNN?.blockedSums ?? 0 }

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

    /// Floats of im2col columns per chunk (tests lower it to split images across chunks). 32–256 K
    /// are within a few per cent of each other here (2 MB L2); 8 K and whole-batch columns cost 20 %.
    var columnBudget = 64 * 1024

    private func groupCount(_ ys: Shape) -> Int { Conv2d.groupCount(batch: ys.n) }

    /// Groups of a batch of `n` images: `groups`, or one per image in smaller batches.
    static func groupCount(batch n: Int) -> Int { min(Conv2d.groups, n) }

    /// The images of group `g` of a batch of `n`: g·n/G..<(g+1)·n/G with G = min(`groups`, n)
    /// groups, ours and oneDNN's alike.
    static func groupImages(_ g: Int, batch n: Int) -> Range<Int> {
        let count = groupCount(batch: n)
        return (g * n / count)..<((g + 1) * n / count)
    }

    /// Output positions per chunk: as many as the column budget allows, or fewer so that the
    /// chunk's GEMMs (all with m·k = weightCount, n = the chunk's columns) stay within m·n·k ≤ 100³,
    /// which OpenBLAS 0.3.21 multiplies without packing A and B — about 1.7× faster here for 16–32
    /// channels. Chunks narrower than 64 columns lose more than that gains, and column counts
    /// that `gemmNN` splits are avoided. `unit`: chunks are multiples of it (whole output lines,
    /// or 1 where im2col takes any range).
    private func columnsPerChunk(unit: Int, rowsPerColumn: Int) -> Int {
        // Multiples of 16 columns where the unit allows: OpenBLAS's kernels work in 16-float strips.
        let round = unit == 1 ? 16 : unit
        let budget = max(1, columnBudget / (rowsPerColumn * round)) * round
        var small = min(budget, 1_000_000 / weightCount) / round * round
        while small > 0, case 1...8 = small % 16 { small -= unit }
        return small >= 64 ? small : budget
    }

    /// One group of the current pass: its output positions, split into chunks whose im2col columns
    /// fit the cache budget, each with the lane's scratch.
    private func run(group g: Int, lane: Int, _ call: Call) {
        let pass = call.pass
        if pass == .directForward || pass == .directWeightGradient { return runDirect(group: g, lane: lane, call) }
        let ys = output.shape, images = Conv2d.groupImages(g, batch: ys.n)
        let image = ys.h * ys.w, positions = (images.lowerBound * image)..<(images.upperBound * image)
        let rowsPerColumn = pass == .backwardPreservingSize ? outChannels * geometry.kernelH * geometry.kernelW : patch
        let anyRange = geometry.preservesSize || geometry.usesPhases
        let perChunk = columnsPerChunk(unit: anyRange ? 1 : ys.w, rowsPerColumn: rowsPerColumn)
        // The columns, then (backward) the other weight-gradient operand transposed, [columns, in or out].
        let columns = min(positions.count, perChunk)
        let col = call.context.scratch((rowsPerColumn + max(inChannels, outChannels)) * columns + im2colSlack, lane: lane)
        let xs = input.shape
        if geometry.usesPhases && pass == .forward {
            splitPhases(input.pointer, c: xs.c, n: xs.n, h: xs.h, w: xs.w, oh: ys.h, ow: ys.w, mask: geometry.phaseMask,
                        images: images, into: phases.pointer)
        }
        if geometry.usesPhases && pass == .backwardGeneral && needsInputGradient {
            zeroPhaseGradient(images)
        }
        var r = positions.lowerBound
        while r < positions.upperBound {
            let chunk = r..<min(positions.upperBound, r + perChunk)
            let first = r == positions.lowerBound
            switch pass {
            case .forward: forward(chunk, col, call.r)
            case .backwardPreservingSize: backwardPreservingSize(group: g, chunk, first: first, col, call.dy!)
            case .backwardGeneral: backwardGeneral(group: g, chunk, first: first, col, call.r, call.dy!)
            case .backwardPointwise: preconditionFailure("pointwise passes are split by rows")
            case .directForward, .directWeightGradient: preconditionFailure("direct passes take no chunks")
            }
            r = chunk.upperBound
        }
        if geometry.usesPhases && pass == .backwardGeneral && needsInputGradient {
            mergePhases(phaseGradient.pointer, c: xs.c, n: xs.n, h: xs.h, w: xs.w, oh: ys.h, ow: ys.w,
                        mask: geometry.phaseMask, images: images, into: inputGradient.pointer)
        }
    }

    /// The phase gradients of `images` (only the phases the kernel reads).
    private func zeroPhaseGradient(_ images: Range<Int>) {
        let ps = phaseGradient.shape, c = inChannels, image = ps.h * ps.w
        for phase in 0..<4 where geometry.phaseMask & (1 << phase) != 0 {
            for ch in 0..<c {
                (phaseGradient.pointer + ((phase * c + ch) * ps.n + images.lowerBound) * image)
                    .update(repeating: 0, count: images.count * image)
            }
        }
    }

    /// im2col of the input for output positions `chunk`, from its phases for stride 2.
    private func unfoldInput(_ chunk: Range<Int>, into col: UnsafeMutablePointer<Float>) {
        let xs = input.shape
        if geometry.usesPhases {
            let ys = output.shape
            im2colPhases(phases.pointer, c: xs.c, n: xs.n, oh: ys.h, ow: ys.w, geometry: geometry, columns: chunk,
                         into: col)
        } else {
            im2col(input.pointer, c: xs.c, n: xs.n, h: xs.h, w: xs.w, geometry: geometry, columns: chunk, into: col)
        }
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(outputShape(for: x.shape))
        if let oneDNN {
            oneDNN.forward(x, into: output, weights: r.parameters + weightOffset,
                           bias: hasBias ? r.parameters + biasOffset : nil, context)
            return output
        }
        if usesDirectKernels {
            imageGroups.run(groupCount(output.shape), Call(pass: .directForward, r: r, dy: nil, context: context), context)
            return output
        }
        if geometry.usesPhases { phases.reshape(Shape(4 * inChannels, x.shape.n, output.shape.h, output.shape.w)) }
        let call = Call(pass: .forward, r: r, dy: nil, context: context)
        if isPointwise {
            runPointwise(rows: outChannels, call)
        } else {
            imageGroups.run(groupCount(output.shape), call, context)
        }
        return output
    }

    /// `pointwiseRows` over `rows` output rows in parts of at least ~0.5 MFLOP.
    private func runPointwise(rows: Int, _ call: Call) {
        let work = output.shape.plane * max(inChannels, outChannels)
        var call = call
        call.rows = Split(rows, minimum: max(8, 256 * 1024 / max(1, work)), alignment: 8)
        pointwiseRows.run(call.rows.parts, call, call.context)
    }

    /// The GEMM adds to the output's starting value: the bias, or 0 without one.
    private var forwardBeta: Float { hasBias ? 1 : 0 }

    /// y[rows, P] = W[rows, in] · x[in, P] (x is its own im2col matrix).
    private func forwardPointwise(_ rows: Range<Int>, _ r: ReplicaView) {
        let plane = output.shape.plane
        if hasBias {
            let bias = r.parameters + biasOffset
            for o in rows { (output.pointer + o * plane).update(repeating: bias[o], count: plane) }
        }
        gemmNN(m: rows.count, n: plane, k: patch, a: r.parameters + weightOffset + rows.lowerBound * patch,
               lda: patch, b: input.pointer, ldb: plane, beta: forwardBeta, c: output.pointer + rows.lowerBound * plane,
               ldc: plane)
    }

    /// y[out, chunk] = W[out, patch] · col(x)[patch, chunk].
    private func forward(_ chunk: Range<Int>, _ col: UnsafeMutablePointer<Float>, _ r: ReplicaView) {
        let ys = output.shape, columns = chunk.count, offset = chunk.lowerBound
        unfoldInput(chunk, into: col)
        fillBias(columns: offset..<(offset + columns), r)
        gemmNN(m: outChannels, n: columns, k: patch, a: r.parameters + weightOffset, lda: patch, b: col,
               ldb: columns, beta: forwardBeta, c: output.pointer + offset, ldc: ys.plane)
    }

    /// y[o, columns] = bias[o] (nothing without a bias; OpenBLAS would otherwise zero C for
    /// beta = 0 and we then add the bias in a second pass).
    private func fillBias(columns: Range<Int>, _ r: ReplicaView) {
        guard hasBias else { return }
        let bias = r.parameters + biasOffset, plane = output.shape.plane
        for o in 0..<outChannels {
            (output.pointer + o * plane + columns.lowerBound).update(repeating: bias[o], count: columns.count)
        }
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        let xs = input.shape, ys = dy.shape
        if hasBias {
            let db = r.gradients + biasOffset
            for o in 0..<outChannels { db[o] += Vector.sum(dy.pointer + o * ys.plane, count: ys.plane) }
        }
        if needsInputGradient { inputGradient.reshape(xs) }
        if let oneDNN {
            oneDNN.backward(dy, input: input, inputGradient: needsInputGradient ? inputGradient : nil,
                            weights: r.parameters + weightOffset, weightGradient: r.gradients + weightOffset,
                            partials: weightGradientT.pointer, context)
            return inputGradient
        }
        if usesDirectKernels && !needsInputGradient {
            imageGroups.run(groupCount(ys), Call(pass: .directWeightGradient, r: r, dy: dy, context: context), context)
            addWeightGradient(groups: groupCount(ys), into: r.gradients + weightOffset)
            return inputGradient
        }
        let pass: Pass
        if isPointwise {
            runPointwise(rows: inChannels, Call(pass: .backwardPointwise, r: r, dy: dy, context: context))
            addTransposedWeightGradient(groups: 1, into: r.gradients + weightOffset)
            return inputGradient
        } else if geometry.preservesSize && needsInputGradient {
            pass = .backwardPreservingSize
            flipKernel(r.parameters + weightOffset)
        } else {
            pass = .backwardGeneral
            if geometry.usesPhases && needsInputGradient {
                phaseGradient.reshape(phases.shape)
            } else if needsInputGradient {
                inputGradient.zero()
            }
        }
        imageGroups.run(groupCount(ys), Call(pass: pass, r: r, dy: dy, context: context), context)
        let dW = r.gradients + weightOffset
        if pass == .backwardPreservingSize {
            addFlippedWeightGradient(groups: groupCount(ys), into: dW)
        } else {
            addTransposedWeightGradient(groups: groupCount(ys), into: dW)
        }
        return inputGradient
    }

    /// Group g of a pass of the direct kernels: the forward of its images, or its weight gradient
    /// into `partial(g)` ([out, in, 3, 3], as dW).
    private func runDirect(group g: Int, lane: Int, _ call: Call) {
        let xs = input.shape, ys = output.shape, images = Conv2d.groupImages(g, batch: xs.n)
        let first = images.lowerBound * xs.h * xs.w
        let work = call.context.scratch(lsgd_direct_work_floats(Int32(inChannels), Int32(images.count), Int32(xs.h),
                                                                Int32(xs.w)), lane: lane)
        if call.pass == .directForward {
            lsgd_direct_forward(input.pointer + first, xs.plane, Int32(inChannels), Int32(images.count), Int32(xs.h),
                                Int32(xs.w), call.r.parameters + weightOffset, Int32(outChannels),
                                hasBias ? call.r.parameters + biasOffset : nil, output.pointer + first, ys.plane, work)
        } else {
            lsgd_direct_weight_gradient(input.pointer + first, xs.plane, call.dy!.pointer + first, ys.plane,
                                        Int32(inChannels), Int32(images.count), Int32(xs.h), Int32(xs.w),
                                        Int32(outChannels), partial(g), work)
        }
    }

    /// dW += Σ_g partial(g), groups in order (the direct kernels' partials are in dW's layout).
    private func addWeightGradient(groups: Int, into dW: UnsafeMutablePointer<Float>) {
        sumPartials(groups: groups)
        Vector.add(partial(0), into: dW, count: weightCount)
    }

    /// Group g's weight-gradient partial sum.
    private func partial(_ g: Int) -> UnsafeMutablePointer<Float> { weightGradientT.pointer + g * weightCount }

    /// dWᵀ[rows, out] = x[rows, P] · dyᵀ; dx[rows, P] = Wᵀ[rows, out] · dy (rows: input channels).
    private func backwardPointwise(_ rows: Range<Int>, _ r: ReplicaView, _ outputGradient: Tensor) {
        let plane = output.shape.plane, dy = outputGradient.pointer
        BLAS.gemm(transB: true, m: rows.count, n: outChannels, k: plane, a: input.pointer + rows.lowerBound * plane,
                  lda: plane, b: dy, ldb: plane, c: partial(0) + rows.lowerBound * outChannels, ldc: outChannels)
        guard needsInputGradient else { return }
        BLAS.gemm(transA: true, m: rows.count, n: plane, k: outChannels,
                  a: r.parameters + weightOffset + rows.lowerBound, lda: patch, b: dy, ldb: plane,
                  c: inputGradient.pointer + rows.lowerBound * plane, ldc: plane)
    }

    /// c[m, n] = (or += unless first) col[m, columns] · b[n, columns]ᵀ, b's rows `stride` apart. Within
    /// OpenBLAS's small-matrix range (m·n·k ≤ 100³) the product is 1.5× faster with b transposed
    /// into `scratch` [columns, n] first (a small copy beside the columns), except for a first
    /// layer's few rows, which like the transposed form better; outside it the two are equal.
    private func weightGradient(_ col: UnsafePointer<Float>, rows m: Int, columns: Int, times b: UnsafePointer<Float>,
                                rows n: Int, stride: Int, first: Bool, into c: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>) {
        guard m >= 32, m * n * columns <= 1_000_000 else {
            BLAS.gemm(transB: true, m: m, n: n, k: columns, a: col, lda: columns, b: b, ldb: stride,
                      beta: first ? 0 : 1, c: c, ldc: n)
            return
        }
        BLAS.transpose(b, rows: n, cols: columns, srcStride: stride, into: scratch, dstStride: n)
        gemmNN(m: m, n: n, k: columns, a: col, lda: columns, b: scratch, ldb: n, beta: first ? 0 : 1, c: c, ldc: n)
    }

    /// From one im2col of dy: dx = W′ · col(dy), the input gradient as a convolution of dy with
    /// the flipped, transposed kernel W′ (no col2im, and a GEMM with K = out·kh·kw), and
    /// dW′ᵀ_g += col(dy) · xᵀ, the weight gradient in W′'s layout (the same sum as col(x) · dyᵀ,
    /// with the shift moved from x to dy), so x needs no second im2col.
    private func backwardPreservingSize(group g: Int, _ chunk: Range<Int>, first: Bool, _ col: UnsafeMutablePointer<Float>,
                                        _ outputGradient: Tensor) {
        let xs = input.shape, ys = output.shape, columns = chunk.count, offset = chunk.lowerBound
        let flippedPatch = outChannels * geometry.kernelH * geometry.kernelW
        im2col(outputGradient.pointer, c: ys.c, n: ys.n, h: ys.h, w: ys.w, geometry: geometry, columns: chunk,
               into: col)
        // dW′ᵀ [out·kh·kw, in] += col(dy) · x[:, chunk]ᵀ
        weightGradient(col, rows: flippedPatch, columns: columns, times: input.pointer + offset, rows: inChannels,
                       stride: xs.plane, first: first, into: partial(g), scratch: col + flippedPatch * columns)
        gemmNN(m: inChannels, n: columns, k: flippedPatch, a: flippedWeight.pointer, lda: flippedPatch,
               b: col, ldb: columns, c: inputGradient.pointer + offset, ldc: xs.plane)
    }

    /// dWᵀ_g += col(x) · dyᵀ, and col2im(Wᵀ · dy) into dx. (Also for a first layer, whose col(x)
    /// has fewer rows than the col(dy) of the path above when in < out.)
    private func backwardGeneral(group g: Int, _ chunk: Range<Int>, first: Bool, _ col: UnsafeMutablePointer<Float>,
                                 _ r: ReplicaView, _ outputGradient: Tensor) {
        let xs = input.shape, ys = output.shape, columns = chunk.count, offset = chunk.lowerBound
        let dy = outputGradient.pointer + offset
        unfoldInput(chunk, into: col)
        weightGradient(col, rows: patch, columns: columns, times: dy, rows: outChannels, stride: ys.plane, first: first,
                       into: partial(g), scratch: col + patch * columns)
        guard needsInputGradient else { return }
        BLAS.gemm(transA: true, m: patch, n: columns, k: outChannels, a: r.parameters + weightOffset, lda: patch,
                  b: dy, ldb: ys.plane, c: col, ldc: columns)
        if geometry.usesPhases {
            col2imPhases(col, c: xs.c, n: xs.n, oh: ys.h, ow: ys.w, geometry: geometry, columns: chunk,
                         into: phaseGradient.pointer)
            return
        }
        let rows = (chunk.lowerBound / ys.w)..<(chunk.upperBound / ys.w)
        col2im(col, c: xs.c, n: xs.n, h: xs.h, w: xs.w, geometry: geometry, rows: rows, into: inputGradient.pointer)
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

    /// Σ_g partial(g) into partial(0), groups in order: contiguous (SIMD) adds, with the sums the
    /// per-element loop would form, so that the permuted adds below read one buffer.
    private func sumPartials(groups: Int) {
        for g in 1..<max(1, groups) { Vector.add(partial(0), partial(g), into: partial(0), count: weightCount) }
    }

    /// dW[o, c, i, j] += Σ_g dW′ᵀ_g[(o, kh − 1 − i, kw − 1 − j), c], groups in order.
    private func addFlippedWeightGradient(groups: Int, into dW: UnsafeMutablePointer<Float>) {
        sumPartials(groups: groups)
        let taps = geometry.kernelH * geometry.kernelW, sum = partial(0)
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let out = dW + (o * inChannels + c) * taps
                for tap in 0..<taps { out[tap] += sum[(o * taps + taps - 1 - tap) * inChannels + c] }
            }
        }
    }

    /// dW[o, p] += Σ_g dWᵀ_g[p, o], groups in order.
    private func addTransposedWeightGradient(groups: Int, into dW: UnsafeMutablePointer<Float>) {
        sumPartials(groups: groups)
        let n = patch, sum = partial(0)
        for o in 0..<outChannels {
            let row = dW + o * n
            for p in 0..<n { row[p] += sum[p * outChannels + o] }
        }
    }
}
