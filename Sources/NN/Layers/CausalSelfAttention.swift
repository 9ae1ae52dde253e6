import Foundation
import Tensor

/// Masked multi-head self-attention ("Attention is all you need", Vaswani et al. 2017, §3.2;
/// GPT-2's decoder, as nanoGPT's `CausalSelfAttention` without dropout) on hidden activations
/// [D, N·T], column n·T + t being token t of sequence n.
///
/// qkv = c_attn(x) [3D, N·T] (rows 0..<D are q, then k, then v; head h is rows h·d..<(h+1)·d of
/// each, d = D/H, as PyTorch's `split` then `view(B, T, H, d)`); for each sequence n and head h,
/// att = softmax(qᵀk/√d) [T, T] with position i attending to j ≤ i only, y = v·attᵀ [d, T] in the
/// head's rows of the merged [D, N·T]; the output is c_proj(y) [D, N·T]. Parameters
/// `c_attn.weight` [3D, D], `c_attn.bias` [3D], `c_proj.weight` [D, D], `c_proj.bias` [D].
///
/// Each (sequence, head) pair is one part of the work (two GEMMs and a softmax forward, four
/// GEMMs and a softmax backward, on strided sub-matrices of [·, N·T]), writing only its own
/// blocks, so the numbers do not depend on the lanes.
public final class CausalSelfAttention: Layer {
    public let features: Int, heads: Int, contextLength: Int
    public let cAttn: Linear, cProj: Linear
    /// The layer's own output is c_proj's; these are the attention core's.
    private let merged = Tensor(Shape(0, 0)), qkvGradient = Tensor(Shape(0, 0))
    /// Softmax probabilities [N·H, T, T] of the last forward, and their gradients in backward.
    private let probabilities = Tensor(Shape(0, 0)), probabilityGradients = Tensor(Shape(0, 0))
    private var qkv = Tensor(Shape(0, 0)), mergedGradient = Tensor(Shape(0, 0))
    private lazy var forwardPairs = Parts<Void> { [unowned self] _, pair, _ in self.forward(pair: pair) }
    private lazy var backwardPairs = Parts<Void> { [unowned self] _, pair, _ in self.backward(pair: pair) }

    /// `weightInitializer` for c_attn, `projectionInitializer` for c_proj (nanoGPT: N(0, 0.02²)
    /// and N(0, (0.02/√(2·n_layer))²)); biases start at 0.
    public init(features: Int, heads: Int, contextLength: Int,
                weightInitializer: SlotInitializer = .normal(standardDeviation: 0.02),
                projectionInitializer: SlotInitializer = .normal(standardDeviation: 0.02)) {
        precondition(heads > 0 && features % heads == 0, "\(features) features do not split into \(heads) heads")
        self.features = features
        self.heads = heads
        self.contextLength = contextLength
        cAttn = Linear(features, 3 * features, weightInitializer: weightInitializer)
        cProj = Linear(features, features, weightInitializer: projectionInitializer)
    }

    /// The size d of a head.
    public var headSize: Int { features / heads }

    public var needsInputGradient: Bool {
        get { cAttn.needsInputGradient }
        set { cAttn.needsInputGradient = newValue }
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        cAttn.register(prefix: joinName(prefix, "c_attn"), parameters: &parameters, state: &state)
        cProj.register(prefix: joinName(prefix, "c_proj"), parameters: &parameters, state: &state)
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c == features && x.h == 1 && x.w == 1 && x.n % contextLength == 0,
                     "CausalSelfAttention expects [\(features), N·\(contextLength)], got \(x)")
        return x
    }

    /// For x = [D, N·T]: c_attn 2·D·3D and c_proj 2·D·D per column, and per sequence and head
    /// qᵀk and v·attᵀ, 2·T·T·d each (computed in full; the mask zeroes half).
    public func flops(for x: Shape) -> Int {
        8 * features * features * x.n + 4 * contextLength * features * x.n
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        let shape = outputShape(for: x.shape), t = contextLength
        qkv = cAttn.forward(x, r, context)
        merged.reshape(shape)
        probabilities.reshape(Shape(shape.n / t * heads * t * t, 1))
        forwardPairs.run(shape.n / t * heads, (), context)
        return cProj.forward(merged, r, context)
    }

    /// Sub-matrix pointers of pair (n, h): q, k, v [d, T] with row stride N·T (in `base`, [3D, N·T]).
    @inline(__always)
    private func blocks(_ base: UnsafeMutablePointer<Float>, pair: Int)
        -> (q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>) {
        let m = qkv.shape.n, n = pair / heads, h = pair % heads
        let q = base + h * headSize * m + n * contextLength
        return (q, q + features * m, q + 2 * features * m)
    }

    private func forward(pair: Int) {
        let m = qkv.shape.n, t = contextLength, d = headSize, n = pair / heads, h = pair % heads
        let (q, k, v) = blocks(qkv.pointer, pair: pair)
        let att = probabilities.pointer + pair * t * t
        // att[i, j] = q[:, i]·k[:, j]/√d
        BLAS.gemm(transA: true, m: t, n: t, k: d, alpha: 1 / Float(d).squareRoot(), a: q, lda: m, b: k, ldb: m,
                  c: att, ldc: t)
        for i in 0..<t { CausalSelfAttention.softmax(row: att + i * t, through: i, count: t) }
        // y[:, i] = Σ_j att[i, j]·v[:, j]
        BLAS.gemm(transB: true, m: d, n: t, k: t, a: v, lda: m, b: att, ldb: t,
                  c: merged.pointer + h * d * m + n * t, ldc: m)
    }

    /// Softmax of row[0...last] in place; row[last + 1 ..< count] (the future) becomes 0.
    private static func softmax(row: UnsafeMutablePointer<Float>, through last: Int, count: Int) {
        var maximum = -Float.infinity
        for j in 0...last { maximum = max(maximum, row[j]) }
        var sum: Float = 0
        for j in 0...last {
            row[j] = expf(row[j] - maximum)
            sum += row[j]
        }
        let scale = 1 / sum
        for j in 0...last { row[j] *= scale }
        for j in (last + 1)..<count { row[j] = 0 }
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        mergedGradient = cProj.backward(dy, r, context)
        qkvGradient.reshape(qkv.shape)
        probabilityGradients.reshape(probabilities.shape)
        let pairs = qkv.shape.n / contextLength * heads
        backwardPairs.run(pairs, (), context)
        return cAttn.backward(qkvGradient, r, context)
    }

    private func backward(pair: Int) {
        let m = qkv.shape.n, t = contextLength, d = headSize, n = pair / heads, h = pair % heads
        let (q, k, v) = blocks(qkv.pointer, pair: pair)
        let (dq, dk, dv) = blocks(qkvGradient.pointer, pair: pair)
        let dyHead = mergedGradient.pointer + h * d * m + n * t
        let att = probabilities.pointer + pair * t * t, dAtt = probabilityGradients.pointer + pair * t * t
        // dAtt[i, j] = dy[:, i]·v[:, j];  dv[:, j] = Σ_i dy[:, i]·att[i, j]
        BLAS.gemm(transA: true, m: t, n: t, k: d, a: dyHead, lda: m, b: v, ldb: m, c: dAtt, ldc: t)
        gemmNN(m: d, n: t, k: t, a: dyHead, lda: m, b: att, ldb: t, c: dv, ldc: m)
        // Through the softmax and the 1/√d scale: dS[i, j] = att[i, j]·(dAtt[i, j] − Σ_k att[i, k]·dAtt[i, k])/√d.
        let scale = 1 / Float(d).squareRoot()
        for i in 0..<t {
            let p = att + i * t, g = dAtt + i * t
            var dot: Float = 0
            for j in 0...i { dot += p[j] * g[j] }
            for j in 0...i { g[j] = p[j] * (g[j] - dot) * scale }
            for j in (i + 1)..<t { g[j] = 0 }
        }
        // dq[:, i] = Σ_j dS[i, j]·k[:, j];  dk[:, j] = Σ_i dS[i, j]·q[:, i]
        BLAS.gemm(transB: true, m: d, n: t, k: t, a: k, lda: m, b: dAtt, ldb: t, c: dq, ldc: m)
        gemmNN(m: d, n: t, k: t, a: q, lda: m, b: dAtt, ldb: t, c: dk, ldc: m)
    }
}
