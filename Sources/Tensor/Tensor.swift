/// A dense Float32 array with a shape, owning its storage.
///
/// Layout convention for activations (DESIGN.md, "no allocation in the step"): feature maps are
/// `[C, N, H, W]` (channel-major, the batch inside) so that a convolution over the whole batch
/// is one GEMM and BatchNorm reads each channel contiguously; vectors are `[F, N]`.
/// A tensor keeps its allocation when reshaped to a shape that fits, so a layer that sees the
/// same batch shape every step never allocates after the first.
public final class Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var storage: FloatBuffer

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative extent")
        self.shape = shape
        storage = FloatBuffer(count: shape.reduce(1, *))
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor(shape: \(shape)) given \(values.count) values")
        for i in 0..<values.count { storage.pointer[i] = values[i] }
    }

    public var count: Int { shape.reduce(1, *) }
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }
    public var array: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Changes the shape, reallocating only when the new shape needs more room than there is.
    /// Contents are unspecified afterwards when the element count changes.
    public func reshape(_ newShape: [Int]) {
        if newShape == shape { return }
        let needed = newShape.reduce(1, *)
        if needed > storage.count { storage = FloatBuffer(count: needed) }
        shape = newShape
    }

    public func zero() { storage.pointer.update(repeating: 0, count: count) }

    public subscript(index: Int) -> Float {
        get { storage.pointer[index] }
        set { storage.pointer[index] = newValue }
    }
}
