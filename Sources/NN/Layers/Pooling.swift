import Tensor

/// Max pooling over each plane of [C, N, H, W]; padding counts as −∞ (PyTorch's `nn.MaxPool2d`).
/// With `relu`, the layer is ReLU followed by max pooling (the two commute, so it applies
/// max(·, 0) to the pooled values and masks their gradient: four times fewer elements).
public final class MaxPool2d: Layer {
    public let geometry: ConvGeometry
    public let relu: Bool
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    /// For every output element, the flat index of the maximum inside its input plane (inside its
    /// channel's [N, H, W] for the 2×2 path).
    private var argmax = IndexBuffer(count: 0)
    /// Scratch of the 2×2 path, a slice per channel: horizontal pair maxima and their indices.
    private var pairMax = FloatBuffer(count: 0), pairIndex = IndexBuffer(count: 0)
    /// Elements of input and output that one run of `argmax` indices covers: a plane, or a
    /// channel for the 2×2 path (`stacked`), as the last forward used them.
    private var indexSpan = (input: 0, output: 0), stacked = false
    private var input = Tensor(Shape(0, 0))
    private let elementwise = Elementwise()
    /// Channels (2×2 path) or planes are spread over the lanes; backward's call is dy.
    private lazy var forwardSpans = Parts<Void> { [unowned self] _, span, _ in self.forward(span: span) }
    private lazy var backwardSpans = Parts<Tensor> { [unowned self] dy, span, _ in self.backward(span: span, dy) }

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, relu: Bool = false) {
        geometry = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
        self.relu = relu
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}

    public func outputShape(for x: Shape) -> Shape {
        let (oh, ow) = geometry.outputSize(x.h, x.w)
        return Shape(x.c, x.n, oh, ow)
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        let ys = outputShape(for: x.shape)
        output.reshape(ys)
        if argmax.count < ys.count { argmax = IndexBuffer(count: ys.count) }
        let g = geometry, h = x.shape.h, w = x.shape.w
        // 2×2 windows: the images of a channel stacked as one [N·H, W] image, indices counting
        // from the channel's start.
        stacked = g.kernelH == 2 && g.kernelW == 2 && g.stride == 2 && g.padding == 0 && h % 2 == 0 && w % 2 == 0
        if stacked {
            indexSpan = (x.shape.plane, ys.plane)
            if pairMax.count < x.count / 2 { pairMax = FloatBuffer(count: x.count / 2); pairIndex = IndexBuffer(count: x.count / 2) }
        } else {
            indexSpan = (h * w, ys.h * ys.w)
        }
        forwardSpans.run(ys.count / max(1, indexSpan.output), (), context)
        if relu { elementwise.run(.relu, output.pointer, into: output.pointer, count: ys.count, context) }
        return output
    }

    private func forward(span: Int) {
        let (inSpan, outSpan) = indexSpan
        let src = input.pointer + span * inSpan, dst = output.pointer + span * outSpan
        let indices = argmax.pointer + span * outSpan
        if stacked {
            Vector.maxPool2x2(src, rows: inSpan / input.shape.w, width: input.shape.w, into: dst, indices: indices,
                              pairMax: pairMax.pointer + span * inSpan / 2, pairIndex: pairIndex.pointer + span * inSpan / 2)
        } else {
            maxPoolGeneral(src, h: input.shape.h, w: input.shape.w, out: output.shape, into: dst, indices: indices)
        }
    }

    /// Plane by plane; indices count from the plane's start.
    private func maxPoolGeneral(_ src: UnsafePointer<Float>, h: Int, w: Int, out: Shape,
                                into dst: UnsafeMutablePointer<Float>, indices idx: UnsafeMutablePointer<Int32>) {
        let g = geometry
        for oy in 0..<out.h {
            for ox in 0..<out.w {
                var best = -Float.infinity, bestIndex = -1
                for i in 0..<g.kernelH {
                    let iy = oy * g.stride - g.padding + i
                    if iy < 0 || iy >= h { continue }
                    for j in 0..<g.kernelW {
                        let ix = ox * g.stride - g.padding + j
                        if ix < 0 || ix >= w { continue }
                        let v = src[iy * w + ix]
                        if v > best || bestIndex < 0 { best = v; bestIndex = iy * w + ix }
                    }
                }
                dst[oy * out.w + ox] = best
                idx[oy * out.w + ox] = Int32(bestIndex)
            }
        }
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        backwardSpans.run(dy.count / max(1, indexSpan.output), dy, context)
        return inputGradient
    }

    private func backward(span: Int, _ dy: Tensor) {
        let (inSpan, outSpan) = indexSpan
        let dx = inputGradient.pointer + span * inSpan
        let g = dy.pointer + span * outSpan, y = output.pointer + span * outSpan
        let idx = argmax.pointer + span * outSpan
        if stacked {
            Vector.maxPool2x2Backward(g, reluOutput: relu ? y : nil, indices: idx, rows: inSpan / input.shape.w,
                                      width: input.shape.w, into: dx)
            return
        }
        dx.update(repeating: 0, count: inSpan)
        if relu {
            for o in 0..<outSpan where y[o] > 0 { dx[Int(idx[o])] += g[o] }
        } else {
            for o in 0..<outSpan { dx[Int(idx[o])] += g[o] }
        }
    }
}

/// Owned Int32 storage (max-pool indices) that never moves.
final class IndexBuffer {
    let count: Int
    let pointer: UnsafeMutablePointer<Int32>

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}

/// Average pooling over each plane of [C, N, H, W]; padding counts as zeros in the average
/// (PyTorch's default `count_include_pad=True`). `GlobalAveragePool` is the whole-plane case.
public final class AvgPool2d: Layer {
    public let geometry: ConvGeometry
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var inputShape = Shape(0, 0)

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0) {
        geometry = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}

    public func outputShape(for x: Shape) -> Shape {
        let (oh, ow) = geometry.outputSize(x.h, x.w)
        return Shape(x.c, x.n, oh, ow)
    }

    /// Calls `body(outputIndex, inputIndex)` for every (output, input) pair of every window of one plane.
    @inline(__always)
    private func forEachTap(h: Int, w: Int, out: Shape, _ body: (Int, Int) -> Void) {
        let g = geometry
        for oy in 0..<out.h {
            for ox in 0..<out.w {
                for i in 0..<g.kernelH {
                    let iy = oy * g.stride - g.padding + i
                    if iy < 0 || iy >= h { continue }
                    for j in 0..<g.kernelW {
                        let ix = ox * g.stride - g.padding + j
                        if ix >= 0 && ix < w { body(oy * out.w + ox, iy * w + ix) }
                    }
                }
            }
        }
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        inputShape = x.shape
        let ys = outputShape(for: x.shape)
        output.reshape(ys)
        output.zero()
        let scale = 1 / Float(geometry.kernelH * geometry.kernelW)
        let inPlane = x.shape.h * x.shape.w, outPlane = ys.h * ys.w
        for plane in 0..<(x.shape.c * x.shape.n) {
            let src = x.pointer + plane * inPlane, dst = output.pointer + plane * outPlane
            forEachTap(h: x.shape.h, w: x.shape.w, out: ys) { o, i in dst[o] += src[i] * scale }
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(inputShape)
        inputGradient.zero()
        let scale = 1 / Float(geometry.kernelH * geometry.kernelW)
        let inPlane = inputShape.h * inputShape.w, outPlane = dy.shape.h * dy.shape.w
        for plane in 0..<(inputShape.c * inputShape.n) {
            let dst = inputGradient.pointer + plane * inPlane, src = dy.pointer + plane * outPlane
            forEachTap(h: inputShape.h, w: inputShape.w, out: dy.shape) { o, i in dst[i] += src[o] * scale }
        }
        return inputGradient
    }
}

/// Mean over each plane: [C, N, H, W] → [C, N, 1, 1] (PyTorch's `adaptive_avg_pool2d(x, 1)`).
public final class GlobalAveragePool: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var inputShape = Shape(0, 0)

    public init() {}

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { Shape(x.c, x.n) }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        inputShape = x.shape
        output.reshape(outputShape(for: x.shape))
        let hw = x.shape.h * x.shape.w
        for plane in 0..<(x.shape.c * x.shape.n) {
            output.pointer[plane] = Vector.sum(x.pointer + plane * hw, count: hw) / Float(hw)
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(inputShape)
        let hw = inputShape.h * inputShape.w
        for plane in 0..<(inputShape.c * inputShape.n) {
            (inputGradient.pointer + plane * hw).update(repeating: dy.pointer[plane] / Float(hw), count: hw)
        }
        return inputGradient
    }
}
