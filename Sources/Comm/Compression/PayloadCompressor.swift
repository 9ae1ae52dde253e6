import Tensor

/// What a compressed reduction carries; each stream keeps its own error-feedback residuals.
public enum PayloadStream: String, CaseIterable, Sendable {
    /// Minibatch SGD's gradients (Algorithm 1).
    case gradients
    /// Weight averaging's deltas x_k − a_k from each worker's anchor (local, post-local, hierarchical).
    case weights
    /// SlowMo's and DiLoCo's pseudo-gradients x₀ − x_k.
    case pseudoGradient = "pseudo_gradient"
}

/// Compressed all-reduces of the workers this process holds, on any `Communicator`: each
/// worker's payload p_k is encoded (`PayloadCodec`), the encoded payloads are exchanged
/// (`Communicator.exchangeEncoded`) and every process reduces them with `CompressedReduction`.
///
/// - Error feedback (`errorFeedback`): q_k = C(p_k + e_k) and e_k ← (p_k + e_k) − D(q_k), one
///   residual per worker and stream (Karimireddy et al. 2019; Stich et al. 2018).
/// - Weight averaging (`averageWeights`): p_k = x_k − a_k, a_k the worker's anchor (its weights
///   right after the last average it took part in; `setAnchors` at the start of the local phase);
///   then x_k ← a_k + the reduced mean delta, and a_k ← x_k. Anchors exist only when the
///   weights stream is compressed.
/// - `lastRelativeError`: ‖decoded mean − exact mean‖ / ‖exact mean‖ of the last reduction, in
///   Double; nil when a group spans processes (the exact inputs of other processes' workers are
///   not here).
///
/// Buffers: K slots of `codec.slotBytes(count)` bytes, residuals and anchors of `count` floats
/// per local worker, the reduction's scratch; all allocated here, none per call.
public final class PayloadCompressor {
    public let codec: PayloadCodec
    public let errorFeedback: Bool
    /// Floats per worker buffer.
    public let count: Int
    public let workers: Int
    public let localWorkers: Range<Int>
    /// ‖decoded − exact‖ / ‖exact‖ of the last reduction (see above).
    public private(set) var lastRelativeError: Double?
    /// True once the anchors hold the weights of the last average (or of the local phase's start).
    public private(set) var anchorsSet = false

    private let slotBytes: Int
    private let slots: UnsafeMutableRawPointer
    private var residuals: [PayloadStream: [FloatBuffer]] = [:]
    private let anchors: [FloatBuffer]
    private let scratch: CompressedReduction.Scratch
    private let members: UnsafeMutableBufferPointer<CompressedReduction.Member>
    private let magnitudes: UnsafeMutablePointer<Float>

    /// A compressor for `count`-float buffers of the workers `localWorkers` of `workers`, with
    /// residuals for `streams` when `errorFeedback` (and anchors when `streams` has `.weights`).
    public init(codec: PayloadCodec, errorFeedback: Bool, count: Int, workers: Int, localWorkers: Range<Int>,
                streams: Set<PayloadStream>) {
        self.codec = codec
        self.errorFeedback = errorFeedback
        self.count = count
        self.workers = workers
        self.localWorkers = localWorkers
        slotBytes = codec.slotBytes(count)
        slots = .allocate(byteCount: max(4, workers * slotBytes), alignment: 16)
        slots.initializeMemory(as: UInt8.self, repeating: 0, count: max(4, workers * slotBytes))
        if errorFeedback {
            for s in streams { residuals[s] = localWorkers.map { _ in FloatBuffer(count: count) } }
        }
        anchors = streams.contains(.weights) ? localWorkers.map { _ in FloatBuffer(count: count) } : []
        scratch = CompressedReduction.Scratch(codec: codec, count: count)
        members = .allocate(capacity: workers)
        magnitudes = .allocate(capacity: PayloadCodec.topkChunk)
    }

    deinit {
        slots.deallocate()
        members.deallocate()
        magnitudes.deallocate()
    }

    /// Replaces every local buffer (p_k, worker order) by the decoded mean (`mean`) or sum over
    /// its group of `groupSize` workers, through `communicator`. Collective.
    public func allReduce(_ buffers: [UnsafeMutablePointer<Float>], groupSize: Int, stream: PayloadStream, mean: Bool = true,
                          communicator comm: Communicator) throws {
        precondition(buffers.count == localWorkers.count, "PayloadCompressor: one buffer per local worker")
        let feedback = errorFeedback ? residuals[stream] : nil
        precondition(!errorFeedback || feedback != nil, "PayloadCompressor: no residuals for the \(stream.rawValue) stream")
        if groupSize == 1 {
            // The reduction of one worker is itself: counted as a call, nothing changes.
            try comm.exchangeEncoded(slots, slotBytes: slotBytes, encodedBytes: codec.encodedBytes(count), groupSize: 1,
                                     traffic: codec.traffic)
            lastRelativeError = 0
            return
        }
        for j in 0..<buffers.count {
            let slot = slots + (localWorkers.lowerBound + j) * slotBytes
            if let e = feedback?[j].pointer {
                let p = buffers[j]
                for i in 0..<count { e[i] += p[i] }
                encode(UnsafePointer(e), into: slot, residual: e)
            } else {
                encode(UnsafePointer(buffers[j]), into: slot, residual: nil)
            }
        }
        try comm.exchangeEncoded(slots, slotBytes: slotBytes, encodedBytes: codec.encodedBytes(count), groupSize: groupSize,
                                 traffic: codec.traffic)
        var errors = CompressedReduction.ErrorSums()
        var first = localWorkers.lowerBound / groupSize * groupSize
        while first < localWorkers.upperBound {
            for w in 0..<groupSize {
                let k = first + w, j = k - localWorkers.lowerBound
                var m = CompressedReduction.Member(payload: UnsafeRawPointer(slots + k * slotBytes))
                if localWorkers.contains(k) {
                    m.output = buffers[j]
                    if let e = feedback?[j].pointer { m.residual = e } else { m.exact = UnsafePointer(buffers[j]) }
                }
                members[w] = m
            }
            CompressedReduction.reduce(UnsafeBufferPointer(rebasing: members[0..<groupSize]), codec: codec, count: count,
                                       divisor: mean ? Float(groupSize) : nil, scratch: scratch, errors: &errors)
            first += groupSize
        }
        lastRelativeError = errors.relative
    }

    /// Weight averaging of the local workers' `parameters` inside groups of `groupSize`, as
    /// deltas from the anchors (see the type's comment). Collective. The anchors must be set.
    public func averageWeights(_ parameters: [UnsafeMutablePointer<Float>], groupSize: Int, communicator comm: Communicator) throws {
        precondition(anchorsSet, "PayloadCompressor.averageWeights: setAnchors first")
        if groupSize == 1 {
            try allReduce(parameters, groupSize: 1, stream: .weights, communicator: comm)
            setAnchors(parameters)
            return
        }
        for (x, a) in zip(parameters, anchors) { for i in 0..<count { x[i] -= a.pointer[i] } }
        try allReduce(parameters, groupSize: groupSize, stream: .weights, communicator: comm)
        for (x, a) in zip(parameters, anchors) {
            for i in 0..<count {
                let v = a.pointer[i] + x[i]
                x[i] = v
                a.pointer[i] = v
            }
        }
    }

    /// Anchors ← the local workers' `parameters` (the start of the local phase, or weights every
    /// worker was just given).
    public func setAnchors(_ parameters: [UnsafeMutablePointer<Float>]) {
        for (x, a) in zip(parameters, anchors) { a.pointer.update(from: x, count: count) }
        anchorsSet = !anchors.isEmpty
    }

    /// Every local anchor ← `weights` (`count` floats), e.g. after an outer step set every worker to x₀.
    public func setAnchors(to weights: UnsafePointer<Float>) {
        for a in anchors { a.pointer.update(from: weights, count: count) }
        anchorsSet = !anchors.isEmpty
    }

    private func encode(_ x: UnsafePointer<Float>, into slot: UnsafeMutableRawPointer, residual: UnsafeMutablePointer<Float>?) {
        if codec.isDense {
            // Dense residuals are updated in the reduction, which decodes every block anyway.
            for b in 0..<PayloadCodec.blocks(count) {
                let lo = b * PayloadCodec.int8Block
                codec.encodeBlock(x + lo, block: b, n: min(PayloadCodec.int8Block, count - lo), count: count, into: slot)
            }
        } else {
            codec.encodeTopK(x, count: count, into: slot, magnitudes: magnitudes, zeroKeptIn: residual)
        }
    }
}

extension PayloadCompressor {
    /// Names of the per-worker state a checkpoint keeps, with its buffer: for every local worker
    /// k, "worker.k.compress.anchor" (when anchors exist) and "worker.k.compress.residual.STREAM"
    /// (with error feedback), so `--resume` continues bitwise.
    public var checkpointBuffers: [(name: String, buffer: FloatBuffer)] {
        var result: [(String, FloatBuffer)] = []
        for (j, k) in localWorkers.enumerated() {
            if !anchors.isEmpty { result.append(("worker.\(k).compress.anchor", anchors[j])) }
            for stream in PayloadStream.allCases {
                if let e = residuals[stream] { result.append(("worker.\(k).compress.residual.\(stream.rawValue)", e[j])) }
            }
        }
        return result
    }

    /// After the buffers of `checkpointBuffers` were loaded: whether the anchors hold an average.
    public func restoreAnchorsSet(_ set: Bool) { anchorsSet = set && !anchors.isEmpty }
}
