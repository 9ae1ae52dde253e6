/// THE reduction of encoded payloads, shared by every backend: from the G encoded payloads of a
/// group (in worker order) it computes the result every member receives, so the numbers depend
/// only on the payloads, `count` and G, never on where the workers live.
///
/// Dense codecs (fp16, bf16, int8): a reduce-scatter then an all-gather of encoded chunks. The
/// buffer splits into G chunks on the codec's block grid (`chunk(_:of:count:groupSize:)`); chunk
/// c's owner decodes the G workers' chunk c, sums them in Float in worker order
/// (((d₀ + d₁) + d₂) + …), divides by the divisor if one is given (the mean), encodes that
/// again (a second quantization, without error feedback) and every worker receives its decode.
/// Chunks lie on the block grid, so the result is the same block by block, which is how it is
/// computed here (every process computes every chunk of its groups; nothing else changes).
///
/// Top-k: an all-gather of the payloads; every worker adds the G payloads' kept values into
/// zeros in worker order, then divides by the divisor if one is given.
///
/// Error feedback (Karimireddy et al. 2019, *Error Feedback Fixes SignSGD*, Algorithm 2): a
/// member's `residual`, given, holds its codec input x = p + e on entry; dense reductions leave
/// e ← x − D(C(x)) in it (top-k's encoder already zeroed the kept entries).
///
/// The codec error ‖decoded result − exact result‖ / ‖exact result‖ is accumulated in Double,
/// element by element in index order, when every member's exact input is at hand (`exact` or
/// `residual`); the exact result is the Double sum of the inputs in worker order over the divisor.
public enum CompressedReduction {
    /// One worker of a group: its payload and, for workers of this process, where its result
    /// goes and its exact input.
    public struct Member {
        public var payload: UnsafeRawPointer
        /// The buffer that receives the result (a worker of this process), or nil.
        public var output: UnsafeMutablePointer<Float>?
        /// The uncompressed input, read before `output` is written (it may be the same buffer);
        /// nil when error feedback holds it in `residual`, or for a worker of another process.
        public var exact: UnsafePointer<Float>?
        /// Error feedback: the codec input on entry, the residual on return.
        public var residual: UnsafeMutablePointer<Float>?

        public init(payload: UnsafeRawPointer, output: UnsafeMutablePointer<Float>? = nil,
                    exact: UnsafePointer<Float>? = nil, residual: UnsafeMutablePointer<Float>? = nil) {
            self.payload = payload
            self.output = output
            self.exact = exact
            self.residual = residual
        }
    }

    /// Squared norms of the error and of the exact result, summed over the calls of one reduction.
    public struct ErrorSums {
        public var error: Double = 0
        public var exact: Double = 0
        /// False once a group had a member whose input this process does not hold.
        public var complete = true
        public init() {}
        /// ‖error‖ / ‖exact‖; 0 when both are 0; nil when incomplete.
        public var relative: Double? {
            guard complete else { return nil }
            if exact == 0 { return error == 0 ? 0 : .infinity }
            return (error / exact).squareRoot()
        }
    }

    /// Scratch a reduction needs, allocated once: three blocks of floats, a block of doubles, a
    /// block's encoding and, for top-k, `count` floats.
    public final class Scratch {
        let decoded: UnsafeMutablePointer<Float>
        let sum: UnsafeMutablePointer<Float>
        let exact: UnsafeMutablePointer<Double>
        let block: UnsafeMutableRawPointer
        let dense: UnsafeMutablePointer<Float>?

        public init(codec: PayloadCodec, count: Int) {
            let b = PayloadCodec.int8Block
            decoded = .allocate(capacity: b)
            sum = .allocate(capacity: b)
            exact = .allocate(capacity: b)
            block = .allocate(byteCount: 4 + 2 * b, alignment: 4)
            block.initializeMemory(as: UInt8.self, repeating: 0, count: 4 + 2 * b)
            dense = codec.isDense ? nil : .allocate(capacity: max(1, count))
        }

        deinit {
            decoded.deallocate()
            sum.deallocate()
            exact.deallocate()
            block.deallocate()
            dense?.deallocate()
        }
    }

    /// Chunk `c` of G over `count` elements: whole blocks of the dense grid, the first chunks one
    /// block longer when the blocks do not divide evenly (depends only on count and G).
    public static func chunk(_ c: Int, count: Int, groupSize g: Int) -> Range<Int> {
        let blocks = PayloadCodec.blocks(count), base = blocks / g, extra = blocks % g
        let first = c * base + min(c, extra), n = base + (c < extra ? 1 : 0)
        let b = PayloadCodec.int8Block
        return min(count, first * b)..<min(count, (first + n) * b)
    }

    /// Reduces the payloads of one group (`members`, worker order) of `count` elements.
    public static func reduce(_ members: UnsafeBufferPointer<Member>, codec: PayloadCodec, count: Int, divisor: Float?,
                              scratch: Scratch, errors: inout ErrorSums) {
        let measured = members.allSatisfy { $0.exact != nil || $0.residual != nil }
        if !measured { errors.complete = false }
        if codec.isDense {
            for c in 0..<members.count {
                let range = chunk(c, count: count, groupSize: members.count)
                if range.isEmpty { continue }  // more workers than blocks
                var b = range.lowerBound / PayloadCodec.int8Block
                while b * PayloadCodec.int8Block < range.upperBound {
                    denseBlock(b, members, codec: codec, count: count, divisor: divisor, scratch: scratch,
                               measured: measured, errors: &errors)
                    b += 1
                }
            }
        } else {
            topK(members, codec: codec, count: count, divisor: divisor, scratch: scratch, measured: measured, errors: &errors)
        }
    }

    private static func denseBlock(_ b: Int, _ members: UnsafeBufferPointer<Member>, codec: PayloadCodec, count: Int,
                                   divisor: Float?, scratch s: Scratch, measured: Bool, errors: inout ErrorSums) {
        let lo = b * PayloadCodec.int8Block, n = min(PayloadCodec.int8Block, count - lo)
        for (w, m) in members.enumerated() {
            codec.decodeBlock(m.payload, block: b, n: n, count: count, into: s.decoded)
            if w == 0 { s.sum.update(from: s.decoded, count: n) } else { for i in 0..<n { s.sum[i] += s.decoded[i] } }
            if let r = m.residual {
                for i in 0..<n {
                    let x = r[lo + i]
                    if measured { s.exact[i] = (w == 0 ? 0 : s.exact[i]) + Double(x) }
                    r[lo + i] = x - s.decoded[i]
                }
            } else if measured, let x = m.exact {
                for i in 0..<n { s.exact[i] = (w == 0 ? 0 : s.exact[i]) + Double(x[lo + i]) }
            }
        }
        if let divisor { OrderedSum.divide(s.sum, count: n, by: divisor) }
        // The owner's second quantization: encode the reduced block, hand out its decode.
        codec.encodeBlock(s.sum, block: 0, n: n, count: n, into: s.block)
        codec.decodeBlock(s.block, block: 0, n: n, count: n, into: s.decoded)
        if measured {
            let d = Double(divisor ?? 1)
            for i in 0..<n {
                let exact = s.exact[i] / d, e = Double(s.decoded[i]) - exact
                errors.error += e * e
                errors.exact += exact * exact
            }
        }
        for m in members { if let out = m.output { (out + lo).update(from: s.decoded, count: n) } }
    }

    private static func topK(_ members: UnsafeBufferPointer<Member>, codec: PayloadCodec, count: Int, divisor: Float?,
                             scratch s: Scratch, measured: Bool, errors: inout ErrorSums) {
        guard let sum = s.dense else { preconditionFailure("CompressedReduction: top-k scratch without its sum buffer") }
        sum.update(repeating: 0, count: count)
        for m in members { codec.addTopK(m.payload, count: count, into: sum) }
        let d = Double(divisor ?? 1)
        var lo = 0
        while lo < count {
            let n = min(PayloadCodec.int8Block, count - lo)
            if measured {
                // The exact input sum: Σ x = Σ residual + Σ kept values with error feedback, else Σ inputs.
                for (w, m) in members.enumerated() {
                    for i in 0..<n {
                        let x: Double = m.residual.map { Double($0[lo + i]) } ?? Double(m.exact![lo + i])
                        s.exact[i] = (w == 0 ? 0 : s.exact[i]) + x
                    }
                }
                let withFeedback = members[0].residual != nil
                for i in 0..<n {
                    let exact = (s.exact[i] + (withFeedback ? Double(sum[lo + i]) : 0)) / d
                    let result = divisor.map { sum[lo + i] / $0 } ?? sum[lo + i]
                    let e = Double(result) - exact
                    errors.error += e * e
                    errors.exact += exact * exact
                }
            }
            if let divisor { OrderedSum.divide(sum + lo, count: n, by: divisor) }
            for m in members { if let out = m.output { (out + lo).update(from: sum + lo, count: n) } }
            lo += n
        }
    }
}
