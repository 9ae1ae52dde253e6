/// The extent of an activation: channels (or features), batch, height, width.
///
/// Layout convention of the whole compute core: feature maps are stored `[C, N, H, W]`
/// (channel-major, batch inside) so that a convolution over the whole batch is one GEMM and
/// BatchNorm reads each channel contiguously; vectors are `[F, N, 1, 1]`. A value type with no
/// heap storage, so reshaping in the training step never allocates.
public struct Shape: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    public var c: Int, n: Int, h: Int, w: Int

    public init(_ c: Int, _ n: Int, _ h: Int = 1, _ w: Int = 1) {
        self.c = c
        self.n = n
        self.h = h
        self.w = w
    }

    public var count: Int { c * n * h * w }
    /// Elements of one channel over the whole batch (N·H·W).
    public var plane: Int { n * h * w }
    public var description: String { "[\(c), \(n), \(h), \(w)]" }
}

/// A dense Float32 array with a `Shape`, owning its storage.
///
/// A tensor keeps its allocation when reshaped to a shape that fits, so a layer that sees the
/// same batch shape every step never allocates after the first.
public final class Tensor: @unchecked Sendable {
    public private(set) var shape: Shape
    public private(set) var storage: FloatBuffer

    public init(_ shape: Shape) {
        precondition(shape.c >= 0 && shape.n >= 0 && shape.h >= 0 && shape.w >= 0,
                     "Tensor shape \(shape) has a negative extent")
        self.shape = shape
        storage = FloatBuffer(count: shape.count)
    }

    public convenience init(_ shape: Shape, values: [Float]) {
        self.init(shape)
        precondition(values.count == shape.count, "Tensor(\(shape)) given \(values.count) values")
        for i in 0..<values.count { storage.pointer[i] = values[i] }
    }

    public var count: Int { shape.count }
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }
    public var array: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Changes the shape, reallocating only when the new shape needs more room than there is.
    /// Contents are unspecified afterwards when the shape changes.
    @inline(__always)
    public func reshape(_ newShape: Shape) {
        if newShape == shape { return }
        if newShape.count > storage.count { storage = FloatBuffer(count: newShape.count) }
        shape = newShape
    }

    public func zero() { storage.pointer.update(repeating: 0, count: count) }

    public subscript(index: Int) -> Float {
        get { storage.pointer[index] }
        set { storage.pointer[index] = newValue }
    }
}
