import Foundation

/// Owned, 64-byte aligned Float32 storage that never moves.
///
/// The flat buffers (parameters, gradients, momentum, SlowMo state) are
/// `FloatBuffer`s; kernels read and write them through `pointer`. The class is
/// `@unchecked Sendable`: callers must not write one buffer from two threads at once,
/// except where a caller documents disjoint ranges or deliberate lock-free (Hogwild) use.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` floats set to zero.
    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("FloatBuffer: out of memory allocating \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { free(pointer) }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "FloatBuffer.copy: \(other.count) != \(count)")
        pointer.update(from: other.pointer, count: count)
    }

    public func copy() -> FloatBuffer {
        let result = FloatBuffer(count: count)
        result.copy(from: self)
        return result
    }

    public var array: [Float] { Array(buffer) }

    /// Overwrites the buffer with `values`, which must hold `count` floats.
    public func load(_ values: [Float]) {
        precondition(values.count == count, "FloatBuffer.load: \(values.count) != \(count)")
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { pointer.update(from: base, count: count) } }
    }
}
