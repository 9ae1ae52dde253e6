import Tensor

/// Wraps a communicator and adds up, for every collective, the seconds it would take on a
/// modelled network (`NetworkModel`): measured compute plus this gives the wall-clock the run
/// would take on that network.
/// A broadcast is charged as an all-reduce of the same size (a ring broadcast costs about half;
/// the simulator broadcasts only BatchNorm statistics, which are small).
public final class ModelledCommunicator: Communicator {
    public let base: Communicator
    public let network: NetworkModel
    /// Modelled seconds of every collective so far.
    public private(set) var modelledSeconds: Double = 0
    /// Modelled seconds of the collectives since the last `takeRecentSeconds()`: a sum that
    /// starts from 0 each time, so that an iteration's seconds do not depend on how long the
    /// communicator has run (a difference of running totals rounds differently after a resume).
    public private(set) var recentSeconds: Double = 0

    public init(_ base: Communicator, network: NetworkModel) {
        self.base = base
        self.network = network
    }

    public var workers: Int { base.workers }
    public var localWorkers: Range<Int> { base.localWorkers }
    public var processRank: Int { base.processRank }
    public var processCount: Int { base.processCount }
    public var counters: CommCounters { base.counters }

    private func charge(_ count: Int, _ groupSize: Int) {
        add(network.allReduceSeconds(bytes: 4 * count, workers: workers, groupSize: groupSize))
    }

    private func add(_ seconds: Double) {
        modelledSeconds += seconds
        recentSeconds += seconds
    }

    /// The modelled seconds since the last call (or since the start), and a fresh count.
    public func takeRecentSeconds() -> Double {
        defer { recentSeconds = 0 }
        return recentSeconds
    }

    public func allReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        try base.allReduceMean(buffers, count: count, groupSize: groupSize)
        charge(count, groupSize)
    }

    public func allReduceSum(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        try base.allReduceSum(buffers, count: count, groupSize: groupSize)
        charge(count, groupSize)
    }

    public func broadcast(_ buffers: [UnsafeMutablePointer<Float>], count: Int, root: Int) throws {
        try base.broadcast(buffers, count: count, root: root)
        charge(count, workers)
    }

    /// Charged as its codec's traffic on the encoded size (`NetworkModel.encodedExchangeSeconds`).
    public func exchangeEncoded(_ slots: UnsafeMutableRawPointer, slotBytes: Int, encodedBytes: Int, groupSize: Int,
                                traffic: EncodedTraffic) throws {
        try base.exchangeEncoded(slots, slotBytes: slotBytes, encodedBytes: encodedBytes, groupSize: groupSize, traffic: traffic)
        add(network.encodedExchangeSeconds(bytes: encodedBytes, workers: workers, groupSize: groupSize, traffic: traffic))
    }

    public func barrier() throws { try base.barrier() }
    public func gatherIntegers(_ values: [Int]) throws -> [[Int]] { try base.gatherIntegers(values) }

    public func startAllReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int) throws -> CommRequest {
        charge(count, workers)
        return try base.startAllReduceMean(buffers, count: count)
    }
}
