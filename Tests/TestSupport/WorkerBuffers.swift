import Tensor

/// The flat buffers of K simulated workers, filled from a seeded generator, for tests of
/// collectives and synchronization strategies on the in-process communicator.
///
/// Values are normal draws scaled by powers of ten between 10⁻³ and 10³, so a sum's result
/// depends on the order of its terms and a test can tell a changed reduction order apart.
public final class WorkerBuffers {
    public let buffers: [FloatBuffer]
    public let count: Int

    public init(workers: Int, count: Int, seed: UInt64) {
        self.count = count
        buffers = (0..<workers).map { worker in
            var g = RandomGenerator(seed: seed).derived(UInt64(worker))
            let values = (0..<count).map { _ -> Float in
                let scale: [Float] = [1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3]
                return g.nextNormal() * scale[g.nextInt(below: scale.count)]
            }
            return FloatBuffer(values)
        }
    }

    /// Fills worker `w`'s buffer with `values(w, i)`.
    public init(workers: Int, count: Int, values: (_ worker: Int, _ index: Int) -> Float) {
        self.count = count
        buffers = (0..<workers).map { w in FloatBuffer((0..<count).map { values(w, $0) }) }
    }

    /// One pointer per worker, in worker order, as collectives take them.
    public var pointers: [UnsafeMutablePointer<Float>] { buffers.map(\.pointer) }

    /// A copy of every worker's values.
    public var arrays: [[Float]] { buffers.map(\.array) }

    /// An independent copy with the same values.
    public func copy() -> WorkerBuffers {
        let values = arrays
        return WorkerBuffers(workers: buffers.count, count: count) { w, i in values[w][i] }
    }
}
