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
    /// For every output element, the flat index inside its input plane of the maximum.
    private var argmax: [Int32] = []

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
        let windows2x2 = g.kernelH == 2 && g.kernelW == 2 && g.stride == 2 && g.padding == 0
        argmax.withUnsafeMutableBufferPointer { indices in
            for plane in 0..<(x.shape.c * x.shape.n) {
                let src = x.pointer + plane * h * w, dst = output.pointer + plane * outPlane
                let idx = indices.baseAddress! + plane * outPlane
                if windows2x2 {
                    maxPool2x2(src, w: w, out: ys, into: dst, indices: idx)
                } else {
                    maxPoolGeneral(src, h: h, w: w, out: ys, into: dst, indices: idx)
                }
            }
        }
        if relu { Vector.relu(output.pointer, into: output.pointer, count: ys.count) }
        return output
    }

    /// Non-overlapping 2×2 windows, branch-free: the first maximum in scan order wins, as below.
    @inline(__always)
    private func maxPool2x2(_ src: UnsafePointer<Float>, w: Int, out: Shape, into dst: UnsafeMutablePointer<Float>,
                            indices idx: UnsafeMutablePointer<Int32>) {
        for oy in 0..<out.h {
            let top = src + 2 * oy * w, bottom = top + w
            let row = dst + oy * out.w, rowIndex = idx + oy * out.w
            for ox in 0..<out.w {
                let a = top[2 * ox], b = top[2 * ox + 1], c = bottom[2 * ox], d = bottom[2 * ox + 1]
                var best = a, at = 2 * ox
                if b > best { best = b; at = 2 * ox + 1 }
                if c > best { best = c; at = w + 2 * ox }
                if d > best { best = d; at = w + 2 * ox + 1 }
                row[ox] = best
                rowIndex[ox] = Int32(2 * oy * w + at)
            }
        }
    }

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
        let inPlane = inputShape.h * inputShape.w, outPlane = dy.shape.h * dy.shape.w
        argmax.withUnsafeBufferPointer { indices in
            for plane in 0..<(inputShape.c * inputShape.n) {
                let dst = inputGradient.pointer + plane * inPlane
                let src = dy.pointer + plane * outPlane, y = output.pointer + plane * outPlane
                let idx = indices.baseAddress! + plane * outPlane
                if relu {
                    for o in 0..<outPlane where y[o] > 0 { dst[Int(idx[o])] += src[o] }
                } else {
                    for o in 0..<outPlane { dst[Int(idx[o])] += src[o] }
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
