import CDNNL
import Tensor

/// A `Conv2d` computed by oneDNN (`ConvBackend.onednn`): forward, backward-data and
/// backward-weights primitives on oneDNN's blocked formats (nChw16c on AVX-512), with reorders
/// from and to our [C, N, H, W] tensors at the layer's boundary (Benchmarks/README.md, "oneDNN
/// convolutions against ours": 1.10–1.62× faster than ours on the 3×3 layers it takes). At
/// stride 1 Winograd F(4×4, 3×3) kernels run where they pay (`WinogradKernels`): oneDNN's
/// primitives for all three passes where it has them (AVX-512), 1.04–1.17× faster steps again
/// ("Winograd convolutions"), else ours, also for all three passes (`OurWinograd`, AVX2), on our
/// tensors directly, 1.25–1.46× faster cnn and resnet20 steps ("Our Winograd weight gradient on AVX2").
///
/// Results depend on the shapes alone, never on the threads: oneDNN splits a weight gradient's
/// sum over the batch by its own thread count, so the batch is cut into `Conv2d.groups` fixed
/// groups of whole images (boundaries g·N/G, as ours), each group computed by single-threaded
/// oneDNN calls on one of our lanes, and the groups' weight-gradient partial sums added in group
/// order. The bias gradient stays `Conv2d`'s own sum over dy.
///
/// Primitives, reorders and memory objects are made once per input shape (each batch size seen
/// in training or evaluation) and kept (`Plan`); a group's temporaries (blocked y, dy, dx, dW and
/// oneDNN's scratchpad) live in its lane's scratch, and the blocked input of a training forward
/// is kept for backward-weights.
final class OneDNNConvolution {
    /// The convolutions oneDNN takes: 3×3 with at least 16 input channels, stride 1 or 2. There it
    /// beats ours even with the reorders; on 1-channel first layers and 1×1 shortcuts the reorders
    /// eat the gain (0.35–1.37×).
    static func takes(inChannels: Int, geometry: ConvGeometry) -> Bool {
        geometry.kernelH == 3 && geometry.kernelW == 3 && inChannels >= 16 && (geometry.stride == 1 || geometry.stride == 2)
    }

    /// Our copies (`ChannelBlocks`) in place of oneDNN's reorders of activations into and out of
    /// the channel-blocked layouts; off, oneDNN's reorders (the same bits: tests compare them).
    /// Read when a shape's primitives are made.
    nonisolated(unsafe) static var copiesChannelBlocks = true

    let inChannels: Int, outChannels: Int, geometry: ConvGeometry, hasBias: Bool
    let engine: dnnl_engine_t
    /// The calling thread's stream (the weights' reorders, before the groups start).
    private let stream: DNNLStream
    private var plans: [Shape: Plan] = [:]
    /// The blocked input of the last training forward, group after group, for backward-weights.
    private var keptInput = FloatBuffer(count: 0)
    /// The groups' weight gradients in backward-weights' blocked format, one after another
    /// (`Plan.blockedPartialFloats` apart), where a plan sums them so (`Plan.sumsBlocked`).
    private var blockedPartials = FloatBuffer(count: 0)
    /// Our Winograd kernels (their transformed weights), made when a plan first takes them
    /// (`Plan.Kernels.ours`): by a pass's weight transform on the calling thread, before its
    /// groups run on the lanes, which only read it.
    private lazy var ourWinograd = OurWinograd(inChannels: inChannels, outChannels: outChannels)

    /// The groups' weight gradients summed in backward-weights' blocked format and reordered into
    /// ours once (`Plan.sumsBlocked`), or each reordered into ours and summed there; the same
    /// floats added in the same order, so the same bits (tests compare them). Read when a
    /// shape's primitives are made.
    nonisolated(unsafe) static var sumsBlockedPartials = true

    private enum Pass { case forward, backward }
    /// A pass's arguments for its groups (`Parts`): pointers to our tensors and buffers.
    private struct Call {
        let pass: Pass, plan: Plan, training: Bool, context: StepContext
        let x: UnsafePointer<Float>, y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?
        let kept: UnsafeMutablePointer<Float>, partials: UnsafeMutablePointer<Float>?
        var blockedPartials: UnsafeMutablePointer<Float>? = nil
        var bias: UnsafePointer<Float>? = nil
    }
    private lazy var groupParts = Parts<Call> { [unowned self] call, g, lane in self.run(group: g, lane: lane, call) }

    /// Throws when oneDNN is unusable here (no engine).
    init(_ inChannels: Int, _ outChannels: Int, geometry: ConvGeometry, hasBias: Bool) throws {
        precondition(OneDNNConvolution.takes(inChannels: inChannels, geometry: geometry), "oneDNN takes 3×3 convolutions only")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.geometry = geometry
        self.hasBias = hasBias
        engine = try OneDNN.engine.get()
        OneDNN.singleThreaded()
        stream = try DNNLStream(engine: engine)
    }

    private var weightCount: Int { outChannels * inChannels * 9 }

    /// The implementations oneDNN chose for the shapes seen so far, per group size (forward /
    /// backward-weights / backward-data), e.g. "jit:avx512_core / jit:avx512_core / jit:avx512_core".
    var implementations: [String] {
        Array(Set(plans.values.flatMap { $0.kernels.values.map(\.implementation) })).sorted()
    }

    /// Input shapes seen so far whose plan sums the weight gradients blocked (`Plan.sumsBlocked`).
    var blockedSums: Int { plans.values.filter(\.sumsBlocked).count }

    /// y [out, N, Ho, Wo] of x [in, N, H, W], with the weights [out, in, 3, 3] and bias [out].
    func forward(_ x: Tensor, into y: Tensor, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 _ context: StepContext) {
        OneDNN.singleThreaded()
        let plan = self.plan(x.shape)
        if context.isTraining && keptInput.count < plan.keptFloats { keptInput = FloatBuffer(count: plan.keptFloats) }
        plan.weights.bind(weights)
        if let bias { plan.bias?.bind(bias) }
        for k in plan.kernels.values where !k.ours { k.forwardWeights.run(stream.handle) }
        stream.wait()
        if plan.usesOurs { ourWinograd.transform(weights, backward: false) }
        var call = Call(pass: .forward, plan: plan, training: context.isTraining, context: context, x: x.pointer,
                        y: y.pointer, dx: nil, kept: keptInput.pointer, partials: nil)
        call.bias = bias
        groupParts.run(plan.groups.count, call, context)
    }

    /// Backward of the training forward of the same batch: dx (when given) and the weight
    /// gradient, added into `weightGradient` [out, in, 3, 3]; `partials` has room for
    /// `Conv2d.groups` weight gradients.
    func backward(_ dy: Tensor, input x: Tensor, inputGradient dx: Tensor?, weights: UnsafePointer<Float>,
                  weightGradient dW: UnsafeMutablePointer<Float>, partials: UnsafeMutablePointer<Float>,
                  _ context: StepContext) {
        OneDNN.singleThreaded()
        let plan = self.plan(x.shape)
        if dx != nil {
            plan.weights.bind(weights)
            for k in plan.kernels.values where !k.ours { k.backwardWeights.run(stream.handle) }
            stream.wait()
            if plan.usesOurs { ourWinograd.transform(weights, backward: true) }
        }
        let call = Call(pass: .backward, plan: plan, training: true, context: context, x: x.pointer, y: dy.pointer,
                        dx: dx?.pointer, kept: keptInput.pointer, partials: partials,
                        blockedPartials: plan.sumsBlocked ? blockedPartials.pointer : nil)
        groupParts.run(plan.groups.count, call, context)
        let count = weightCount
        if let sum = plan.blockedSum {
            // Group 0's blocked partial plus each later one in group order, then into ours, where
            // the per-group path would reorder each and add them in the same order.
            let blocked = blockedPartials.pointer, stride = plan.blockedPartialFloats
            for g in 1..<plan.groups.count {
                Vector.add(blocked, blocked + g * stride, into: blocked, count: sum.floats)
            }
            sum.from.bind(blocked)
            sum.to.bind(partials)
            sum.reorder.run(stream.handle)
            stream.wait()
        } else {
            for g in 1..<plan.groups.count { Vector.add(partials, partials + g * count, into: partials, count: count) }
        }
        Vector.add(dW, partials, into: dW, count: count)
    }

    /// One group's pass on its lane: bind its views and temporaries, then run its primitives in order.
    private func run(group g: Int, lane: Int, _ call: Call) {
        OneDNN.singleThreaded()
        let plan = call.plan, group = plan.groups[g], k = group.kernels, layout = k.layout
        let work = call.context.scratch(k.scratchFloats, lane: lane), scratch = UnsafeMutableRawPointer(work)
        let first = group.images.lowerBound
        if k.ours {
            runOurs(group: g, work: work, call)
            return
        }
        group.x.bind(call.x + first * plan.inputImage)
        group.y.bind(call.y + first * plan.outputImage)
        let kept = UnsafeMutableRawPointer(call.kept) + group.keptOffset
        switch call.pass {
        case .forward:
            group.blockedX.bind(call.training ? kept : scratch + layout.blockedX)
            group.blockedY.bind(scratch + layout.blockedY)
            for s in group.scratchpads { s.bind(scratch + layout.scratchpad) }
            for op in group.forward { op.run(group.stream.handle) }
        case .backward:
            group.blockedX.bind(kept)
            group.weightX?.bind(scratch + layout.weightX)
            group.weightDy.bind(scratch + layout.weightDy)
            group.dataDy?.bind(scratch + layout.dataDy)
            group.blockedDx.bind(scratch + layout.blockedDx)
            if let blocked = call.blockedPartials {
                group.blockedDW.bind(blocked + g * plan.blockedPartialFloats)
            } else {
                group.blockedDW.bind(scratch + layout.blockedDW)
                group.partial.bind(call.partials! + g * weightCount)
            }
            for s in group.scratchpads { s.bind(scratch + layout.scratchpad) }
            for op in group.weightGradient { op.run(group.stream.handle) }
            if let dx = call.dx {
                group.dx.bind(dx + first * plan.inputImage)
                for op in group.inputGradient { op.run(group.stream.handle) }
            }
        }
        group.stream.wait()
    }

    /// One group's pass by our Winograd kernels (`Kernels.ours`), straight on our tensors: no
    /// oneDNN memory is bound (the group's views would point at a kept input that does not exist),
    /// the forward keeps nothing (backward-weights reads x itself) and the weight gradient goes
    /// into the group's partial.
    private func runOurs(group g: Int, work: UnsafeMutablePointer<Float>, _ call: Call) {
        let plan = call.plan, group = plan.groups[g], ours = ourWinograd
        let first = group.images.lowerBound, images = group.images.count, stride = plan.inputImage * group.kernels.batch
        let x = call.x + first * plan.inputImage, y = call.y + first * plan.outputImage
        switch call.pass {
        case .forward:
            ours.forward(x, into: UnsafeMutablePointer(mutating: y), bias: call.bias, images: images, height: plan.height,
                         width: plan.width, channelStride: stride, work: work)
        case .backward:
            ours.weightGradient(x, y, into: call.partials! + g * weightCount, images: images, height: plan.height,
                                width: plan.width, channelStride: stride, work: work)
            if let dx = call.dx {
                ours.inputGradient(y, into: dx + first * plan.inputImage, images: images, height: plan.height,
                                   width: plan.width, channelStride: stride, work: work)
            }
        }
    }

    /// The plan of input shape `xs`, made on first use. Failing here means that oneDNN, which
    /// made an engine, cannot make a primitive of a shape `Conv2d` accepts: nothing a run could fix.
    private func plan(_ xs: Shape) -> Plan {
        if let plan = plans[xs] { return plan }
        do {
            let plan = try Plan(self, xs)
            plans[xs] = plan
            let floats = plan.sumsBlocked ? plan.groups.count * plan.blockedPartialFloats : 0
            if blockedPartials.count < floats { blockedPartials = FloatBuffer(count: floats) }
            return plan
        } catch {
            preconditionFailure("oneDNN convolution \(inChannels)→\(outChannels) on \(xs): \(error)")
        }
    }
}
