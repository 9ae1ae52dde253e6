import CDNNL
import Tensor

extension OneDNNConvolution {
    /// Everything one input shape [C, N, H, W] needs: its groups (images g·N/G..<(g+1)·N/G of
    /// G = min(`Conv2d.groups`, N)), the primitives of each group size (at most two), and the
    /// views of our weights and bias.
    final class Plan {
        let groups: [Group]
        let kernels: [Int: Kernels]
        /// Our OIHW weights and the bias, bound to the replica's buffers before each pass.
        let weights: DNNLMemory, bias: DNNLMemory?
        /// Floats per image of one channel of x and of y.
        let inputImage: Int, outputImage: Int
        /// x's image size.
        let height: Int, width: Int
        /// Whether some group size runs our Winograd kernels (`Kernels.ours`).
        let usesOurs: Bool
        /// Floats of the kept input that a training forward fills.
        let keptFloats: Int
        /// The reorder of the groups' summed blocked weight gradients into ours, where every group
        /// size's backward-weights is oneDNN's and chose the same format (else each group puts
        /// its own into ours).
        let blockedSum: BlockedSum?
        /// Floats between two groups' blocked weight gradients (64-byte aligned).
        let blockedPartialFloats: Int
        var sumsBlocked: Bool { blockedSum != nil }

        init(_ conv: OneDNNConvolution, _ xs: Shape) throws {
            OneDNN.singleThreaded()
            let engine = conv.engine, n = xs.n, count = Conv2d.groupCount(batch: n)
            let (oh, ow) = conv.geometry.outputSize(xs.h, xs.w)
            inputImage = xs.h * xs.w
            outputImage = oh * ow
            (height, width) = (xs.h, xs.w)
            weights = try DNNLMemory(OneDNN.descriptor([conv.outChannels, conv.inChannels, 3, 3], dnnl_oihw), engine: engine,
                                     owned: false)
            bias = conv.hasBias ? try DNNLMemory(OneDNN.descriptor([conv.outChannels], dnnl_a), engine: engine, owned: false) : nil
            let ranges = (0..<count).map { Conv2d.groupImages($0, batch: n) }
            var kernels: [Int: Kernels] = [:]
            for size in Set(ranges.map(\.count)) {
                kernels[size] = try Kernels(conv, xs, images: size, weights: weights, bias: bias)
            }
            let first = kernels[ranges[0].count]!
            if OneDNNConvolution.sumsBlockedPartials, first.outDW.scratchpadBytes == 0,
               kernels.values.allSatisfy({ !$0.ours && OneDNN.equal($0.diffWeights, first.diffWeights) }) {
                blockedSum = try BlockedSum(first, engine: engine)
            } else {
                blockedSum = nil
            }
            blockedPartialFloats = roundUp(OneDNN.bytes(first.diffWeights)) / 4
            var offset = 0
            var groups: [Group] = []
            for images in ranges {
                let k = kernels[images.count]!
                groups.append(try Group(k, images: images, keptOffset: offset, reordersWeightGradient: blockedSum == nil))
                offset += k.ours ? 0 : roundUp(OneDNN.bytes(k.src))
            }
            self.groups = groups
            self.kernels = kernels
            usesOurs = kernels.values.contains(where: \.ours)
            keptFloats = offset / 4
        }
    }

    /// The groups' weight gradients, summed in backward-weights' blocked format, reordered into
    /// ours (OIHW): one reorder on the calling thread, which has no lane scratch (it must need none).
    struct BlockedSum {
        let from: DNNLMemory, to: DNNLMemory, reorder: DNNLOp
        /// Floats of one blocked weight gradient, padding included.
        let floats: Int

        init(_ k: Kernels, engine: dnnl_engine_t) throws {
            from = try DNNLMemory(k.diffWeights, engine: engine, owned: false)
            to = try DNNLMemory(k.plainWeights, engine: engine, owned: false)
            reorder = DNNLOp(k.outDW, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)], scratchpad: nil)
            floats = OneDNN.bytes(k.diffWeights) / 4
        }
    }

    /// The primitives of one group size — convolution forward, backward-weights and
    /// backward-data, created with one OpenMP thread and a user scratchpad — the reorders
    /// between views of our tensors and the formats they chose, and the weights in both
    /// convolutions' formats (shared by the groups of this size).
    final class Kernels {
        let engine: dnnl_engine_t
        let forward: DNNLPrimitive, weightGradient: DNNLPrimitive, inputGradient: DNNLPrimitive
        /// One group of x [in, N, H, W] and of y [out, N, Ho, Wo] as oneDNN's (n, c, h, w).
        let xView: dnnl_memory_desc_t, yView: dnnl_memory_desc_t
        /// Formats the primitives chose: forward x and y, backward-weights x, dy and dW,
        /// backward-data dy and dx.
        let src: dnnl_memory_desc_t, dst: dnnl_memory_desc_t
        let weightSrc: dnnl_memory_desc_t, weightDiffDst: dnnl_memory_desc_t, diffWeights: dnnl_memory_desc_t
        let dataDiffDst: dnnl_memory_desc_t, diffSrc: dnnl_memory_desc_t
        let plainWeights: dnnl_memory_desc_t
        /// Reorders: x into the forward's format, y out of it; x into backward-weights' format
        /// where it differs (else the forward's kept x serves), dy into backward-weights' and, where
        /// it differs, backward-data's; dx and dW out into our layouts.
        let inX: DNNLPrimitive, outY: DNNLPrimitive, inWeightX: DNNLPrimitive?, inWeightDy: DNNLPrimitive
        let inDataDy: DNNLPrimitive?, outDx: DNNLPrimitive, outDW: DNNLPrimitive
        /// Our weights into each convolution's format, run once per pass before the groups.
        let forwardWeights: DNNLOp, backwardWeights: DNNLOp
        let forwardWeightMemory: DNNLMemory, backwardWeightMemory: DNNLMemory
        let bias: DNNLMemory?
        let layout: ScratchLayout
        /// Whether our Winograd kernels compute all three passes (`WinogradKernels.ours`), from and
        /// into our tensors: then the primitives go unused.
        let ours: Bool
        /// Floats of lane scratch a group needs: the layout's, or with ours their work space alone.
        let scratchFloats: Int
        /// Images of the whole batch (our tensors' N), for the copies of `ChannelBlocks`.
        let batch: Int

        var implementation: String {
            let ourName = "ours:winograd_4x3:avx2"
            return (ours ? [ourName, ourName, ourName]
                         : [forward.implementation, weightGradient.implementation, inputGradient.implementation])
                .joined(separator: " / ")
        }

        init(_ conv: OneDNNConvolution, _ xs: Shape, images n: Int, weights: DNNLMemory, bias: DNNLMemory?) throws {
            engine = conv.engine
            self.bias = bias
            batch = xs.n
            plainWeights = weights.descriptor
            let (oh, ow) = conv.geometry.outputSize(xs.h, xs.w), cin = conv.inChannels, cout = conv.outChannels
            xView = try OneDNN.descriptor([n, cin, xs.h, xs.w], strides: [xs.h * xs.w, xs.n * xs.h * xs.w, xs.w, 1])
            yView = try OneDNN.descriptor([n, cout, oh, ow], strides: [oh * ow, xs.n * oh * ow, ow, 1])
            let pds = try Kernels.describe(conv, xs, images: n)
            defer { for pd in [pds.forward, pds.weights, pds.data] { dnnl_primitive_desc_destroy(pd) } }
            func md(_ pd: dnnl_primitive_desc_t, _ what: dnnl_query_t) -> dnnl_memory_desc_t {
                dnnl_primitive_desc_query_md(pd, what, 0).pointee
            }
            src = md(pds.forward, dnnl_query_src_md)
            dst = md(pds.forward, dnnl_query_dst_md)
            weightSrc = md(pds.weights, dnnl_query_src_md)
            weightDiffDst = md(pds.weights, dnnl_query_diff_dst_md)
            diffWeights = md(pds.weights, dnnl_query_diff_weights_md)
            dataDiffDst = md(pds.data, dnnl_query_diff_dst_md)
            diffSrc = md(pds.data, dnnl_query_diff_src_md)
            forward = try DNNLPrimitive(pds.forward, "forward convolution")
            weightGradient = try DNNLPrimitive(pds.weights, "backward-weights convolution")
            inputGradient = try DNNLPrimitive(pds.data, "backward-data convolution")

            inX = try .reorder(xView, src, engine: engine)
            outY = try .reorder(dst, yView, engine: engine)
            inWeightX = OneDNN.equal(weightSrc, src) ? nil : try .reorder(xView, weightSrc, engine: engine)
            inWeightDy = try .reorder(yView, weightDiffDst, engine: engine)
            inDataDy = OneDNN.equal(dataDiffDst, weightDiffDst) ? nil : try .reorder(yView, dataDiffDst, engine: engine)
            outDx = try .reorder(diffSrc, xView, engine: engine)
            outDW = try .reorder(diffWeights, plainWeights, engine: engine)

            forwardWeightMemory = try DNNLMemory(md(pds.forward, dnnl_query_weights_md), engine: engine, owned: true)
            backwardWeightMemory = try DNNLMemory(md(pds.data, dnnl_query_weights_md), engine: engine, owned: true)
            forwardWeights = try Kernels.weightsReorder(weights, forwardWeightMemory, engine: engine)
            backwardWeights = try Kernels.weightsReorder(weights, backwardWeightMemory, engine: engine)
            let primitives = [forward, weightGradient, inputGradient, inX, outY, inWeightDy, outDx, outDW]
                + [inWeightX, inDataDy].compactMap { $0 }
            layout = ScratchLayout(src: OneDNN.bytes(src), dst: OneDNN.bytes(dst),
                                   weightX: inWeightX == nil ? 0 : OneDNN.bytes(weightSrc),
                                   weightDy: OneDNN.bytes(weightDiffDst),
                                   dataDy: inDataDy == nil ? 0 : OneDNN.bytes(dataDiffDst),
                                   dx: OneDNN.bytes(diffSrc), dW: OneDNN.bytes(diffWeights),
                                   scratchpad: primitives.map(\.scratchpadBytes).max() ?? 0)
            ours = WinogradKernels.available == .ours
                && WinogradKernels.ours.takes(stride: conv.geometry.stride, padding: conv.geometry.padding,
                                              outputHeight: oh, outputWidth: ow, images: n)
            scratchFloats = ours
                ? OurWinograd.workFloats(inChannels: cin, outChannels: cout, images: n, height: xs.h, width: xs.w)
                : layout.floats
        }

        /// The three convolutions' descriptors for a group of `n` images, every format left to
        /// oneDNN (the backward ones hinted by the forward's); the caller destroys them. Where
        /// `WinogradKernels.onednn` takes the shape, oneDNN's Winograd F(4×4, 3×3) kernels if it
        /// has them for it (Lavin & Gray 2016), else the direct ones, as all others take.
        private static func describe(_ conv: OneDNNConvolution, _ xs: Shape, images n: Int) throws
            -> (forward: dnnl_primitive_desc_t, weights: dnnl_primitive_desc_t, data: dnnl_primitive_desc_t) {
            let (oh, ow) = conv.geometry.outputSize(xs.h, xs.w)
            if WinogradKernels.available == .onednn,
               WinogradKernels.onednn.takes(stride: conv.geometry.stride, padding: conv.geometry.padding,
                                            outputHeight: oh, outputWidth: ow, images: n),
               let winograd = try describe(conv, xs, images: n, dnnl_convolution_winograd) {
                return winograd
            }
            guard let direct = try describe(conv, xs, images: n, dnnl_convolution_direct) else {
                throw OneDNN.Failure(description: "oneDNN: no direct convolution \(conv.inChannels)→\(conv.outChannels) for \(xs)")
            }
            return direct
        }

        /// The descriptors with `algorithm`, or nil when oneDNN has no implementation of it for
        /// one of the three.
        private static func describe(_ conv: OneDNNConvolution, _ xs: Shape, images n: Int,
                                     _ algorithm: dnnl_alg_kind_t) throws
            -> (forward: dnnl_primitive_desc_t, weights: dnnl_primitive_desc_t, data: dnnl_primitive_desc_t)? {
            let (oh, ow) = conv.geometry.outputSize(xs.h, xs.w), cin = conv.inChannels, cout = conv.outChannels
            var x = try OneDNN.descriptor([n, cin, xs.h, xs.w], dnnl_format_tag_any)
            var w = try OneDNN.descriptor([cout, cin, 3, 3], dnnl_format_tag_any)
            var y = try OneDNN.descriptor([n, cout, oh, ow], dnnl_format_tag_any)
            var b = try OneDNN.descriptor([cout], dnnl_a)
            let s = Int64(conv.geometry.stride), p = Int64(conv.geometry.padding)
            let strides: [Int64] = [s, s], pad: [Int64] = [p, p]
            var fd = dnnl_convolution_desc_t(), wd = dnnl_convolution_desc_t(), dd = dnnl_convolution_desc_t()
            try OneDNN.check(conv.hasBias
                             ? dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, algorithm, &x, &w, &b, &y,
                                                                  strides, pad, pad)
                             : dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, algorithm, &x, &w, nil, &y,
                                                                  strides, pad, pad),
                             "describing a forward convolution")
            try OneDNN.check(dnnl_convolution_backward_weights_desc_init(&wd, algorithm, &x, &w, nil, &y, strides, pad, pad),
                             "describing backward-weights")
            try OneDNN.check(dnnl_convolution_backward_data_desc_init(&dd, algorithm, &x, &w, &y, strides, pad, pad),
                             "describing backward-data")
            let attr = try OneDNN.userScratchpad()
            defer { dnnl_primitive_attr_destroy(attr) }
            var fpd: dnnl_primitive_desc_t?, wpd: dnnl_primitive_desc_t?, dpd: dnnl_primitive_desc_t?
            func destroy() { for pd in [fpd, wpd, dpd] { if let pd { dnnl_primitive_desc_destroy(pd) } } }
            let statuses = [
                dnnl_primitive_desc_create(&fpd, &fd, attr, conv.engine, nil),
                fpd == nil ? dnnl_unimplemented : dnnl_primitive_desc_create(&wpd, &wd, attr, conv.engine, fpd),
                fpd == nil ? dnnl_unimplemented : dnnl_primitive_desc_create(&dpd, &dd, attr, conv.engine, fpd),
            ]
            if statuses.contains(dnnl_unimplemented) {
                destroy()
                return nil
            }
            do {
                for (status, what) in zip(statuses, ["choosing a forward convolution", "choosing backward-weights",
                                                     "choosing backward-data"]) {
                    try OneDNN.check(status, what)
                }
            } catch {
                destroy()
                throw error
            }
            return (fpd!, wpd!, dpd!)
        }

        /// Our OIHW weights into `to`'s format. It runs on the calling thread, which has no lane
        /// scratch, so it must need no scratchpad (plain-to-blocked reorders need none).
        private static func weightsReorder(_ from: DNNLMemory, _ to: DNNLMemory, engine: dnnl_engine_t) throws -> DNNLOp {
            let reorder = try DNNLPrimitive.reorder(from.descriptor, to.descriptor, engine: engine)
            guard reorder.scratchpadBytes == 0 else {
                throw OneDNN.Failure(description: "oneDNN: a reorder of the weights wants a scratchpad")
            }
            return DNNLOp(reorder, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)], scratchpad: nil)
        }
    }

    /// One group of images: its memory objects (views of our tensors, bound per pass, and
    /// blocked temporaries, bound to its lane's scratch), its stream and the operations of each pass.
    final class Group {
        let kernels: Kernels
        let images: Range<Int>
        /// Bytes into the kept input where this group's blocked x goes (none with our kernels).
        let keptOffset: Int
        let stream: DNNLStream
        let x: DNNLMemory, y: DNNLMemory, dx: DNNLMemory
        let blockedX: DNNLMemory, blockedY: DNNLMemory, weightX: DNNLMemory?, weightDy: DNNLMemory
        let dataDy: DNNLMemory?, blockedDx: DNNLMemory, blockedDW: DNNLMemory
        /// This group's weight-gradient partial sum, OIHW.
        let partial: DNNLMemory
        let scratchpads: [DNNLMemory]
        /// x in, convolution, y out; none with our Winograd kernels (`Kernels.ours`).
        let forward: [GroupOp]
        /// (x in,) dy in, backward-weights(, dW out); none with our Winograd kernels.
        let weightGradient: [GroupOp]
        /// (dy in,) backward-data, dx out; none with our Winograd kernels.
        let inputGradient: [GroupOp]

        /// `reordersWeightGradient`: the group's weight gradient goes into ours (`partial`) by
        /// itself; else it stays blocked, for the plan's `BlockedSum`.
        init(_ k: Kernels, images: Range<Int>, keptOffset: Int, reordersWeightGradient: Bool) throws {
            kernels = k
            self.images = images
            self.keptOffset = keptOffset
            let e = k.engine
            stream = try DNNLStream(engine: e)
            func memory(_ md: dnnl_memory_desc_t) throws -> DNNLMemory { try DNNLMemory(md, engine: e, owned: false) }
            x = try memory(k.xView)
            y = try memory(k.yView)
            dx = try memory(k.xView)
            blockedX = try memory(k.src)
            blockedY = try memory(k.dst)
            weightX = k.inWeightX == nil ? nil : try memory(k.weightSrc)
            weightDy = try memory(k.weightDiffDst)
            dataDy = k.inDataDy == nil ? nil : try memory(k.dataDiffDst)
            blockedDx = try memory(k.diffSrc)
            blockedDW = try memory(k.diffWeights)
            partial = try memory(k.plainWeights)
            var scratchpads: [DNNLMemory] = []
            func op(_ p: DNNLPrimitive, _ args: [(Int32, DNNLMemory)]) throws -> DNNLOp {
                let pad = p.scratchpadBytes > 0 ? try memory(p.scratchpad) : nil
                if let pad { scratchpads.append(pad) }
                return DNNLOp(p, args, scratchpad: pad)
            }
            func run(_ p: DNNLPrimitive, _ args: [(Int32, DNNLMemory)]) throws -> GroupOp { .primitive(try op(p, args)) }
            /// A reorder `p` from our tensor into a blocked one (or out of it, `into: false`): our
            /// copy where the blocked layout is channel-blocked (`ChannelBlocks`), else oneDNN's.
            func reorder(_ p: DNNLPrimitive, from: DNNLMemory, to: DNNLMemory, into: Bool = true) throws -> GroupOp {
                if OneDNNConvolution.copiesChannelBlocks,
                   let blocks = ChannelBlocks((into ? to : from).descriptor, batch: k.batch) {
                    return into ? .toBlocked(blocks, from: from, to: to) : .fromBlocked(blocks, from: from, to: to)
                }
                return try run(p, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)])
            }
            var forwardArgs = [(DNNL_ARG_SRC, blockedX), (DNNL_ARG_WEIGHTS, k.forwardWeightMemory), (DNNL_ARG_DST, blockedY)]
            if let bias = k.bias { forwardArgs.append((DNNL_ARG_BIAS, bias)) }
            var weightOps: [GroupOp] = [], dataOps: [GroupOp] = []
            if k.ours {
                forward = []
            } else {
                forward = [try reorder(k.inX, from: x, to: blockedX), try run(k.forward, forwardArgs),
                           try reorder(k.outY, from: blockedY, to: y, into: false)]
                if let p = k.inWeightX, let weightX { weightOps.append(try reorder(p, from: x, to: weightX)) }
                weightOps += [
                    try reorder(k.inWeightDy, from: y, to: weightDy),
                    try run(k.weightGradient, [(DNNL_ARG_SRC, weightX ?? blockedX), (DNNL_ARG_DIFF_DST, weightDy),
                                               (DNNL_ARG_DIFF_WEIGHTS, blockedDW)]),
                ]
                if reordersWeightGradient {
                    weightOps.append(try run(k.outDW, [(DNNL_ARG_FROM, blockedDW), (DNNL_ARG_TO, partial)]))
                }
            }
            if let p = k.inDataDy, let dataDy, !k.ours { dataOps.append(try reorder(p, from: y, to: dataDy)) }
            if !k.ours { dataOps += [
                try run(k.inputGradient, [(DNNL_ARG_DIFF_DST, dataDy ?? weightDy), (DNNL_ARG_WEIGHTS, k.backwardWeightMemory),
                                          (DNNL_ARG_DIFF_SRC, blockedDx)]),
                try reorder(k.outDx, from: blockedDx, to: dx, into: false),
            ] }
            weightGradient = weightOps
            inputGradient = dataOps
            self.scratchpads = scratchpads
        }
    }
}

/// Byte offsets of one group's temporaries in its lane's scratch, each 64-byte aligned (the
/// scratch itself is): forward [x (evaluation; training keeps it elsewhere) | y], backward [x for
/// backward-weights where its format differs | dy | dy for backward-data where its format
/// differs | dx | dW], then oneDNN's scratchpad, after the longer of the two.
struct ScratchLayout {
    let blockedX: Int, blockedY: Int
    let weightX: Int, weightDy: Int, dataDy: Int, blockedDx: Int, blockedDW: Int
    let scratchpad: Int
    /// Floats the lane's scratch must hold.
    let floats: Int

    init(src: Int, dst: Int, weightX x: Int, weightDy: Int, dataDy: Int, dx: Int, dW: Int, scratchpad bytes: Int) {
        blockedX = 0
        blockedY = roundUp(src)
        weightX = 0
        self.weightDy = roundUp(x)
        self.dataDy = self.weightDy + roundUp(weightDy)
        blockedDx = self.dataDy + roundUp(dataDy)
        blockedDW = blockedDx + roundUp(dx)
        scratchpad = max(blockedY + roundUp(dst), blockedDW + roundUp(dW))
        floats = (scratchpad + roundUp(bytes)) / 4
    }
}

/// `bytes` rounded up to a multiple of 64 (a cache line, and oneDNN's preferred alignment).
func roundUp(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }
