import Foundation
import Tensor

/// Wraps a communicator and waits a fixed time before every collective, to emulate network
/// latency where the kernel has no `netem`: each all-reduce, broadcast and
/// barrier then costs at least `latency` seconds more, as one more message round would.
public final class DelayedCommunicator: Communicator {
    public let base: Communicator
    public let latency: Double

    public init(_ base: Communicator, latency: Double) {
        precondition(latency >= 0 && latency.isFinite, "latency must be finite and non-negative")
        self.base = base
        self.latency = latency
    }

    public var workers: Int { base.workers }
    public var localWorkers: Range<Int> { base.localWorkers }
    public var processRank: Int { base.processRank }
    public var processCount: Int { base.processCount }
    public var counters: CommCounters { base.counters }

    private func delay() { if latency > 0 { Thread.sleep(forTimeInterval: latency) } }

    public func allReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        delay()
        try base.allReduceMean(buffers, count: count, groupSize: groupSize)
    }

    public func allReduceSum(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        delay()
        try base.allReduceSum(buffers, count: count, groupSize: groupSize)
    }

    public func broadcast(_ buffers: [UnsafeMutablePointer<Float>], count: Int, root: Int) throws {
        delay()
        try base.broadcast(buffers, count: count, root: root)
    }

    public func barrier() throws {
        delay()
        try base.barrier()
    }

    public func gatherIntegers(_ values: [Int]) throws -> [[Int]] {
        delay()
        return try base.gatherIntegers(values)
    }

    public func exchangeEncoded(_ slots: UnsafeMutableRawPointer, slotBytes: Int, encodedBytes: Int, groupSize: Int,
                                traffic: EncodedTraffic) throws {
        delay()
        try base.exchangeEncoded(slots, slotBytes: slotBytes, encodedBytes: encodedBytes, groupSize: groupSize, traffic: traffic)
    }

    public func startAllReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int) throws -> CommRequest {
        delay()
        return try base.startAllReduceMean(buffers, count: count)
    }
}
