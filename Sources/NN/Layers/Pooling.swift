import Tensor

/// Max pooling over each plane of [C, N, H, W]; padding counts as −∞ (PyTorch's `nn.MaxPool2d`).
public final class MaxPool2d: Layer {
    public let geometry: ConvGeometry
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var inputShape = Shape(0, 0)
    /// For every output element, the flat index inside its input plane of the maximum.
    private var argmax: [Int32] = []

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0) {
        geometry = ConvGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding)
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
        let g = geometry, h = x.shape.h, w = x.shape.w
        argmax.withUnsafeMutableBufferPointer { arg in
            for plane in 0..<(x.shape.c * x.shape.n) {
                let src = x.pointer + plane * h * w
                let dst = output.pointer + plane * ys.h * ys.w
                let idx = arg.baseAddress! + plane * ys.h * ys.w
                for oy in 0..<ys.h {
                    for ox in 0..<ys.w {
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
                        dst[oy * ys.w + ox] = best
                        idx[oy * ys.w + ox] = Int32(bestIndex)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(inputShape)
        inputGradient.zero()
        let inPlane = inputShape.h * inputShape.w, outPlane = dy.shape.h * dy.shape.w
        argmax.withUnsafeBufferPointer { arg in
            for plane in 0..<(inputShape.c * inputShape.n) {
                let dst = inputGradient.pointer + plane * inPlane
                let src = dy.pointer + plane * outPlane
                let idx = arg.baseAddress! + plane * outPlane
                for o in 0..<outPlane { dst[Int(idx[o])] += src[o] }
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
