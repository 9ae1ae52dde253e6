import Tensor

// Layers run their loops on the workspace's threads through closures made once per layer
// (capturing the layer `unowned`, reading each call's arguments from its stored properties):
// lending a fresh closure to other threads would allocate on every call, and the training step
// must not allocate (WorkerPool.run(_:job:)).

extension Optional where Wrapped == Workspace {

    /// `job(item, lane)` for every item in 0..<count on the workspace's threads (on the calling
    /// thread for a layer outside a network).
    func run(_ count: Int, job: @escaping (_ item: Int, _ lane: Int) -> Void) {
        if let self { self.pool.run(count, job: job) } else { for i in 0..<count { job(i, 0) } }
    }
}

/// 0..<count in at most `maximumParts` parts, each at least `minimum` long (one part below that)
/// and, but the last, a multiple of `alignment`. The parts depend on the sizes alone, never on
/// the number of threads that run them: OpenBLAS rounds an output element differently when the
/// same product is computed by calls of other shapes, so a GEMM split by the thread count would
/// give other numbers on another thread count.
struct Split {
    /// Parts of the largest work (as Conv2d's image groups): enough for four threads.
    static let maximumParts = 4

    let count: Int, parts: Int, size: Int

    init(_ count: Int, minimum: Int = 16 * 1024, alignment: Int = 64) {
        self.count = count
        parts = max(1, min(Split.maximumParts, count / max(1, minimum)))
        size = ((count + parts - 1) / parts + alignment - 1) / alignment * alignment
    }

    func range(_ part: Int) -> Range<Int> { min(count, part * size)..<min(count, (part + 1) * size) }
}

/// An element-wise kernel over a tensor, split over the workspace's threads; one per layer.
final class Elementwise {
    enum Kernel { case relu, reluBackward, add, addReLU }
    private var kernel = Kernel.relu
    private var a: UnsafePointer<Float>?, b: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>?
    private var split = Split(0)
    private lazy var job: (Int, Int) -> Void = { [unowned self] part, _ in self.apply(self.split.range(part)) }

    /// relu: out = max(a, 0); reluBackward: out = a where b > 0; add: out = a + b; addReLU:
    /// out = max(a + b, 0). `b` is ignored by relu.
    func run(_ kernel: Kernel, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>? = nil,
             into out: UnsafeMutablePointer<Float>, count: Int, on workspace: Workspace?) {
        self.kernel = kernel
        self.a = a
        self.b = b ?? a
        self.out = out
        split = Split(count)
        workspace.run(split.parts, job: job)
    }

    private func apply(_ r: Range<Int>) {
        guard let a, let b, let out else { return }
        let i = r.lowerBound, n = r.count
        switch kernel {
        case .relu: Vector.relu(a + i, into: out + i, count: n)
        case .reluBackward: Vector.reluBackward(a + i, output: b + i, into: out + i, count: n)
        case .add: Vector.add(a + i, b + i, into: out + i, count: n)
        case .addReLU: Vector.addReLU(a + i, b + i, into: out + i, count: n)
        }
    }
}
