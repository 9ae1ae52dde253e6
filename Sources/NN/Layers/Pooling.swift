import Tensor

/// Max pooling over each plane of [C, N, H, W]; padding counts as −∞ (PyTorch's `nn.MaxPool2d`).
/// With `relu`, the layer is ReLU followed by max pooling (the two commute, so it applies
/// max(·, 0) to the pooled values and masks their gradient: four times fewer elements).
public final class MaxPool2d: Layer {
    public let geometry: ConvGeometry
    public let relu: Bool
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var inputShape = Shape(0, 0)
    /// For every output element, the flat index of the maximum inside its input plane (inside its
    /// channel's [N, H, W] for the 2×2 path).
    private var argmax: [Int32] = []
    /// Scratch of the 2×2 path: horizontal pair maxima and their indices.
    private var pairMax = FloatBuffer(count: 0), pairIndex: [Int32] = []
    /// Elements of input and output that one run of `argmax` indices covers (a plane, or a
    /// channel for the 2×2 path), as the last forward used them.
    private var indexSpan = (input: 0, output: 0)

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, relu: Bool = false) {
        geometry = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
        self.relu = relu
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}

    public func outputShape(for x: Shape) -> Shape {
        let (oh, ow) = geometry.outputSize(x.h, x.w)
        return Shape(x.c, x.n, oh, ow)
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        inputShape = x.shape
        let ys = outputShape(for: x.shape)
        output.reshape(ys)
        if argmax.count < ys.count { argmax = [Int32](repeating: 0, count: ys.count) }
        let g = geometry, h = x.shape.h, w = x.shape.w, outPlane = ys.h * ys.w
        argmax.withUnsafeMutableBufferPointer { indices in
            if g.kernelH == 2 && g.kernelW == 2 && g.stride == 2 && g.padding == 0 && h % 2 == 0 && w % 2 == 0 {
                // The images of a channel stacked as one [N·H, W] image: indices count from the channel's start.
                let rows = x.shape.n * h, pairs = rows * w / 2
                indexSpan = (rows * w, ys.plane)
                if pairMax.count < pairs { pairMax = FloatBuffer(count: pairs); pairIndex = [Int32](repeating: 0, count: pairs) }
                pairIndex.withUnsafeMutableBufferPointer { pairIndex in
                    for c in 0..<x.shape.c {
                        Vector.maxPool2x2(x.pointer + c * rows * w, rows: rows, width: w,
                                          into: output.pointer + c * ys.plane, indices: indices.baseAddress! + c * ys.plane,
                                          pairMax: pairMax.pointer, pairIndex: pairIndex.baseAddress!)
                    }
                }
                return
            }
            indexSpan = (h * w, outPlane)
            for plane in 0..<(x.shape.c * x.shape.n) {
                maxPoolGeneral(x.pointer + plane * h * w, h: h, w: w, out: ys, into: output.pointer + plane * outPlane,
                               indices: indices.baseAddress! + plane * outPlane)
            }
        }
        if relu { Vector.relu(output.pointer, into: output.pointer, count: ys.count) }
        return output
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

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(inputShape)
        inputGradient.zero()
        let (inSpan, outSpan) = indexSpan
        argmax.withUnsafeBufferPointer { indices in
            for span in 0..<(outSpan > 0 ? dy.count / outSpan : 0) {
                let dst = inputGradient.pointer + span * inSpan
                let src = dy.pointer + span * outSpan, y = output.pointer + span * outSpan
                let idx = indices.baseAddress! + span * outSpan
                if relu {
                    for o in 0..<outSpan where y[o] > 0 { dst[Int(idx[o])] += src[o] }
                } else {
                    for o in 0..<outSpan { dst[Int(idx[o])] += src[o] }
                }
            }
        }
        return inputGradient
    }
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

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
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

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
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

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        inputShape = x.shape
        output.reshape(outputShape(for: x.shape))
        let hw = x.shape.h * x.shape.w
        for plane in 0..<(x.shape.c * x.shape.n) {
            output.pointer[plane] = Vector.sum(x.pointer + plane * hw, count: hw) / Float(hw)
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(inputShape)
        let hw = inputShape.h * inputShape.w
        for plane in 0..<(inputShape.c * inputShape.n) {
            (inputGradient.pointer + plane * hw).update(repeating: dy.pointer[plane] / Float(hw), count: hw)
        }
        return inputGradient
    }
}
