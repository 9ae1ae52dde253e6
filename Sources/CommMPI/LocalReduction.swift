import Comm
import Tensor

/// The reductions over the buffers one process holds, by the fixed-order kernel of the in-process
/// backend (`OrderedSum` in Comm): element `i` of a group (w₀, …, w_{G−1}) is
/// `((w₀[i] + w₁[i]) + …) + w_{G−1}[i]` in `Float`, and the mean divides by `Float(G)`. A group
/// that lives inside one process therefore gives bitwise the in-process result.
///
/// Single-threaded on purpose: a rank usually owns one core, and these passes are memory bound
/// (one core saturates the memory bus). The kernel works in cache blocks, so each buffer is read
/// and written once.
enum LocalReduction {
    /// Reduces every group of `groupSize` consecutive buffers and writes the result into each
    /// buffer of the group (`divisor` nil: sum; otherwise the sum divided by it).
    static func allReduce(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int, divisor: Float?) {
        if groupSize == 1 || count == 0 { return }
        for first in stride(from: 0, to: buffers.count, by: groupSize) {
            let members = buffers[first..<(first + groupSize)]
            OrderedSum.reduce(members, into: members[first], offset: 0, count: count, divisor: divisor, copies: members)
        }
    }

    /// Adds buffers 1… into buffer 0, left to right, then divides by `divisor` if given (the
    /// local part of a cross-rank reduction; a power-of-two divisor is an exact prescale).
    static func sumIntoFirst(_ buffers: [UnsafeMutablePointer<Float>], count: Int, divisor: Float?) {
        if count == 0 || (buffers.count == 1 && divisor == nil) { return }
        OrderedSum.reduce(buffers[...], into: buffers[0], offset: 0, count: count, divisor: divisor)
    }

    /// G as a prescale divisor when dividing each rank's part by it is exact (G > 1 a power of
    /// two, `Float.exactReciprocal`), so that Σ(x/G) = (Σx)/G in every order of summation,
    /// barring results below the normal range.
    static func exactPrescale(_ groupSize: Int) -> Float? {
        groupSize > 1 && Float(groupSize).exactReciprocal != nil ? Float(groupSize) : nil
    }

    /// Divides buffer 0 by `divisor` (if any) and copies it into buffers 1….
    static func finish(_ buffers: [UnsafeMutablePointer<Float>], count: Int, divisor: Float?) {
        if count == 0 || (buffers.count == 1 && divisor == nil) { return }
        OrderedSum.reduce(buffers[..<1], into: buffers[0], offset: 0, count: count, divisor: divisor, copies: buffers[...])
    }

    /// Divides `count` floats at `values` by `divisor`, in the arithmetic of `finish`.
    static func divide(_ values: UnsafeMutablePointer<Float>, count: Int, by divisor: Float) {
        OrderedSum.divide(values, count: count, by: divisor)
    }

    /// Copies buffer `source` into every other buffer.
    static func copy(from source: Int, _ buffers: [UnsafeMutablePointer<Float>], count: Int) {
        for (w, target) in buffers.enumerated() where w != source {
            target.update(from: buffers[source], count: count)
        }
    }
}
