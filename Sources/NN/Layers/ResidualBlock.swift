import Tensor

/// How a residual block carries its input to the sum.
public enum Shortcut {
    /// x itself (same shape).
    case identity
    /// He et al.'s option A for CIFAR ResNets: spatial subsampling by `stride` and zero channels
    /// added on both sides (no parameters).
    case zeroPad(stride: Int, outChannels: Int)
    /// Option B: 1×1 convolution with stride and BatchNorm, named `downsample.0/1` as in torchvision.
    case projection(Sequential)
}

/// y = relu(body(x) + shortcut(x)): the basic block (two 3×3 convolutions) and the bottleneck
/// block (1×1, 3×3, 1×1) of He et al. (2016), depending on `body`.
///
/// When the body ends with a BatchNorm without ReLU and the shortcut is x or a projection, that
/// BatchNorm adds the shortcut and applies the ReLU in its own pass over the output
/// (`BatchNorm.forward(_:addingReLU:_:_:)`), and backward adds the ReLU's gradient to the body's
/// in one pass: the same bits as the separate passes, one or two passes fewer.
public final class ResidualBlock: Layer {
    public let body: Sequential
    public let shortcut: Shortcut
    /// The body's last layer, when it ends the block as above.
    private let fusedNorm: BatchNorm?
    private let output = Tensor(Shape(0, 0)), sumGradient = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// y of the last forward: `output`, or the fused BatchNorm's output.
    private var blockOutput = Tensor(Shape(0, 0))
    private var needsGradient = true
    private let elementwise = Elementwise()

    public init(body: Sequential, shortcut: Shortcut) {
        self.body = body
        self.shortcut = shortcut
        if case .zeroPad = shortcut {
            fusedNorm = nil
        } else if let norm = body.children.last?.layer as? BatchNorm, !norm.relu {
            fusedNorm = norm
        } else {
            fusedNorm = nil
        }
    }

    public var needsInputGradient: Bool {
        get { needsGradient }
        set {
            needsGradient = newValue
            body.needsInputGradient = newValue
            if case .projection(let p) = shortcut { p.needsInputGradient = newValue }
        }
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        body.register(prefix: prefix, parameters: &parameters, state: &state)
        if case .projection(let p) = shortcut {
            p.register(prefix: joinName(prefix, "downsample"), parameters: &parameters, state: &state)
        }
    }

    public func outputShape(for x: Shape) -> Shape { body.outputShape(for: x) }

    public func flops(for x: Shape) -> Int {
        var total = body.flops(for: x)
        if case .projection(let p) = shortcut { total += p.flops(for: x) }
        return total
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        if let norm = fusedNorm {
            var a = x
            for child in body.children.dropLast() { a = child.layer.forward(a, r, context) }
            var s = x
            if case .projection(let p) = shortcut { s = p.forward(x, r, context) }
            blockOutput = norm.forward(a, addingReLU: s, r, context)
            return blockOutput
        }
        blockOutput = output
        let a = body.forward(x, r, context)
        output.reshape(a.shape)
        let y = output.pointer, count = a.count
        switch shortcut {
        case .identity, .projection:
            var s = x.pointer
            if case .projection(let p) = shortcut { s = p.forward(x, r, context).pointer }
            elementwise.run(.addReLU, a.pointer, s, into: y, count: count, context)
        case .zeroPad(let stride, let outChannels):
            addZeroPadShortcut(x.shape, x.pointer, stride: stride, outChannels: outChannels, into: a.shape, y, a.pointer)
        }
        return output
    }

    /// y = relu(a + pad(subsample(x))) for option A.
    private func addZeroPadShortcut(_ xs: Shape, _ x: UnsafePointer<Float>, stride: Int, outChannels: Int,
                                    into ys: Shape, _ y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>) {
        let before = (outChannels - xs.c) / 2
        let plane = ys.h * ys.w
        for c in 0..<ys.c {
            let xc = c - before
            for n in 0..<ys.n {
                let dst = y + (c * ys.n + n) * plane, body = a + (c * ys.n + n) * plane
                if xc < 0 || xc >= xs.c {
                    for i in 0..<plane { dst[i] = max(body[i], 0) }
                    continue
                }
                let src = x + (xc * xs.n + n) * xs.h * xs.w
                for oy in 0..<ys.h {
                    for ox in 0..<ys.w {
                        let i = oy * ys.w + ox
                        dst[i] = max(body[i] + src[oy * stride * xs.w + ox * stride], 0)
                    }
                }
            }
        }
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        if fusedNorm != nil { return fusedBackward(dy, r, context) }
        sumGradient.reshape(dy.shape)
        elementwise.run(.reluBackward, dy.pointer, output.pointer, into: sumGradient.pointer, count: dy.count,
                        context)
        let dBody = body.backward(sumGradient, r, context)
        var dShortcut: Tensor? = nil
        if case .projection(let p) = shortcut { dShortcut = p.backward(sumGradient, r, context) }
        guard needsGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        let dx = inputGradient.pointer, count = input.count
        switch shortcut {
        case .identity, .projection:
            elementwise.run(.add, dBody.pointer, dShortcut?.pointer ?? sumGradient.pointer, into: dx, count: count,
                            context)
        case .zeroPad(let stride, let outChannels):
            dx.update(from: dBody.pointer, count: count)
            let xs = input.shape, ys = dy.shape, before = (outChannels - xs.c) / 2, plane = ys.h * ys.w
            for xc in 0..<xs.c {
                for n in 0..<xs.n {
                    let src = sumGradient.pointer + ((xc + before) * ys.n + n) * plane
                    let dst = dx + (xc * xs.n + n) * xs.h * xs.w
                    for oy in 0..<ys.h {
                        for ox in 0..<ys.w { dst[oy * stride * xs.w + ox * stride] += src[oy * ys.w + ox] }
                    }
                }
            }
        }
        return inputGradient
    }

    /// Backward of the fused forward: the BatchNorm masks dy by y itself; the shortcut's
    /// gradient, dy masked, is formed for a projection, and added to the body's for x itself.
    private func fusedBackward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        var dBody = dy
        for child in body.children.reversed() { dBody = child.layer.backward(dBody, r, context) }
        var dShortcut: Tensor? = nil
        if case .projection(let p) = shortcut {
            sumGradient.reshape(dy.shape)
            elementwise.run(.reluBackward, dy.pointer, blockOutput.pointer, into: sumGradient.pointer, count: dy.count,
                            context)
            dShortcut = p.backward(sumGradient, r, context)
        }
        guard needsGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        if let dShortcut {
            elementwise.run(.add, dBody.pointer, dShortcut.pointer, into: inputGradient.pointer, count: input.count, context)
        } else {
            elementwise.run(.addReLUGradient, dBody.pointer, dy.pointer, blockOutput.pointer, into: inputGradient.pointer,
                            count: input.count, context)
        }
        return inputGradient
    }
}
