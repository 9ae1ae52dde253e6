import Tensor

/// Errors of a communication backend, with a sentence a user can act on.
public struct CommError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Bytes and collective rounds a worker has taken part in. `bytes` counts payload bytes per
/// worker (4 per float per collective; a compressed reduction's encoded bytes,
/// `PayloadCodec.encodedBytes`); the network model (`NetworkModel`) turns rounds and
/// bytes into modelled seconds.
public struct CommCounters: Codable, Equatable, Sendable {
    public var rounds: Int = 0
    public var bytes: Int = 0
    public init(rounds: Int = 0, bytes: Int = 0) {
        self.rounds = rounds
        self.bytes = bytes
    }
}

/// A non-blocking collective in flight (for asynchronous averaging).
public protocol CommRequest: AnyObject {
    /// True once the result is in the buffers; never blocks. Drives progress where the backend needs it.
    func test() throws -> Bool
    /// Blocks until the result is in the buffers.
    func wait() throws
}

/// Collectives over the flat buffers of the K workers of a run.
///
/// A process holds the workers `localWorkers` of `workers` (all K for the in-process backend,
/// which simulates K machines exactly on one box; one or several per rank for MPI). Each call
/// passes one buffer per local worker, in worker order, all of the same `count`, and every
/// process of the run must make the same calls in the same order (as with MPI).
///
/// Groups: `groupSize` G splits the workers into consecutive blocks {0..G−1}, {G..2G−1}, …
/// (G must divide K); a collective with G < K acts inside each block (hierarchical local SGD,
/// Lin et al.). G = K is the whole world.
public protocol Communicator: AnyObject {
    /// K, the number of workers in the run.
    var workers: Int { get }
    /// Global indices of the workers whose buffers this process passes.
    var localWorkers: Range<Int> { get }
    /// This process's index among the processes of the run (0 for in-process).
    var processRank: Int { get }
    var processCount: Int { get }

    /// Replaces every buffer by the element-wise mean over the workers of its group.
    func allReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws
    /// Replaces every buffer by the element-wise sum over the workers of its group.
    func allReduceSum(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws
    /// Copies worker `root`'s buffer into every worker's buffer.
    func broadcast(_ buffers: [UnsafeMutablePointer<Float>], count: Int, root: Int) throws
    /// Returns when every process has called it.
    func barrier() throws
    /// Every process's `values`, in process order (all processes pass as many). For decisions
    /// the processes must make alike (which checkpoint to load, whether all wrote one); not
    /// training traffic, so `counters` do not count it.
    func gatherIntegers(_ values: [Int]) throws -> [[Int]]
    /// Starts a mean all-reduce over the whole world; the buffers must stay valid and untouched
    /// by the caller until the request completes.
    func startAllReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int) throws -> CommRequest

    /// Makes every worker's encoded payload visible to every process that holds a worker of its
    /// group of `groupSize` (a compressed reduction, `PayloadCompressor`). `slots` holds K
    /// payloads of `slotBytes` bytes, worker k's at k·slotBytes; on entry this process's workers'
    /// slots are filled, on return every slot of their groups. `counters` count one round and
    /// `encodedBytes` (a payload's size without padding); the network model charges `traffic`.
    func exchangeEncoded(_ slots: UnsafeMutableRawPointer, slotBytes: Int, encodedBytes: Int, groupSize: Int,
                         traffic: EncodedTraffic) throws

    /// Totals since the communicator was made.
    var counters: CommCounters { get }
}

extension Communicator {
    public func allReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int) throws {
        try allReduceMean(buffers, count: count, groupSize: workers)
    }
    public func allReduceSum(_ buffers: [UnsafeMutablePointer<Float>], count: Int) throws {
        try allReduceSum(buffers, count: count, groupSize: workers)
    }
}
