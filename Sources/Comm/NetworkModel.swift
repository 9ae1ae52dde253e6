/// The communication cost model that turns a run's collectives into modelled wall-clock time
/// (measured and modelled time side by side, as in the study's time breakdown).
///
/// Each level of the network is a `Link` with a latency α (seconds per message) and a bandwidth
/// β (bytes per second). An all-reduce of n bytes among P participants is a ring all-reduce
/// (reduce-scatter then all-gather, 2(P−1) steps of n/P bytes each):
///
///     ring(P, n, link) = 2(P−1)/P · n/β + 2(P−1)·α        (0 when P = 1)
///
/// Two levels (`nodes` set): workers 0..<W share node 0, W..<2W node 1, and so on, and talk
/// inside a node over `nodes.intraNode`, across nodes over `interNode`. An all-reduce inside
/// groups of G consecutive workers (all groups run at once and take the same time) costs:
/// - every group inside one node: ring(G, n, intra);
/// - every group made of whole nodes (W divides G): the hierarchical all-reduce, an intra-node
///   reduce-scatter and all-gather around an inter-node ring of each worker's 1/W share,
///   ring(W, n, intra) + ring(G/W, n/W, inter);
/// - otherwise (some group straddles a node boundary unevenly): a flat ring on the slower
///   level, ring(G, n, inter), since every step of a ring waits for its slowest hop.
/// Contention between groups that share a node or a network card is not modelled.
///
/// Compressed reductions (`--compress`, `PayloadCodec`) are charged on n_enc, the encoded bytes
/// of one worker's payload (fp16 and bf16: 2 per element; int8: 1 per element + 4 per block of
/// 256; top-k: 8 per kept entry, a UInt32 index and a Float value):
/// - dense codecs reduce-scatter and all-gather encoded chunks: the all-reduce above on n_enc;
/// - top-k all-gathers the payloads (every worker receives the other G−1 whole):
///   allGather(G, n_enc, link) = (G−1)·n_enc/β + (G−1)·α, on the intra-node link when every
///   group is inside one node, else on the inter-node link (plus `overhead`, at `efficiency`,
///   as below).
///
/// Two terms describe the software between the program and the wire, fitted to a real link
/// (docs/MPI.md, "Calibrating the network model"):
/// - `overhead` o, seconds added once to every collective call (start-up, synchronisation and
///   per-call work of the MPI library and the kernel that do not shrink with the message);
/// - `efficiency` e, the fraction of every link's rate a collective achieves (TCP/IP headers,
///   acknowledgements, pipeline bubbles), so each link counts as bandwidth e·β.
///
/// An all-reduce of a group of G > 1 then costs `o + ring(…)` with every β replaced by e·β;
/// with o = 0 and e = 1 (the defaults) the numbers are exactly those of the plain rings.
/// Waiting for the slowest worker at a lockstep collective is not a property of the network
/// but of the run; `waitForSlowest(secondsSinceLastSync:process:)` adds it from the measured
/// per-process compute (the trainer records it under MPI).
///
/// A model is written as a string, e.g. `10gbit:50us`, `1gbit:100us,nodes-of=8,intra=nvlink` or
/// `1gbit:100us,overhead=2ms,efficiency=0.8`
/// (see `init(parsing:)`); that string is also its `description` and its `Codable` form, so a
/// run file holds the same value as the `--network` flag.
public struct NetworkModel: Equatable, Sendable {
    /// One level of the network: every link of it has latency α and bandwidth β.
    public struct Link: Equatable, Sendable {
        /// α, seconds per message.
        public var latency: Double
        /// β, bytes per second.
        public var bandwidth: Double

        public init(latency: Double, bandwidth: Double) {
            precondition(latency >= 0 && latency.isFinite, "Link latency must be finite and non-negative, got \(latency)")
            precondition(bandwidth > 0 && bandwidth.isFinite, "Link bandwidth must be finite and positive, got \(bandwidth)")
            self.latency = latency
            self.bandwidth = bandwidth
        }

        /// 2(P−1)/P · n/β + 2(P−1)·α, and 0 for a single participant.
        public func ringAllReduceSeconds(bytes: Double, participants p: Int) -> Double {
            guard p > 1 else { return 0 }
            let steps = Double(2 * (p - 1))
            return steps / Double(p) * bytes / bandwidth + steps * latency
        }

        /// (P−1)·n/β + (P−1)·α, a ring all-gather of n bytes from each of P participants; 0 for one.
        public func ringAllGatherSeconds(bytes: Double, participants p: Int) -> Double {
            guard p > 1 else { return 0 }
            let steps = Double(p - 1)
            return steps * bytes / bandwidth + steps * latency
        }
    }

    /// Workers grouped into nodes of `workersPerNode` that share a faster link.
    public struct Nodes: Equatable, Sendable {
        /// W: workers 0..<W are on node 0, W..<2W on node 1, …
        public var workersPerNode: Int
        /// The link between two workers of the same node.
        public var intraNode: Link

        public init(workersPerNode: Int, intraNode: Link) {
            precondition(workersPerNode >= 1, "Nodes need at least one worker each, got \(workersPerNode)")
            self.workersPerNode = workersPerNode
            self.intraNode = intraNode
        }
    }

    /// The link between nodes, or between any two workers when `nodes` is nil.
    public var interNode: Link
    /// The second level, if workers share nodes.
    public var nodes: Nodes?
    /// o, seconds added to every collective call (0: none).
    public var overhead: Double
    /// e, the fraction of every link's bandwidth a collective achieves, in (0, 1] (1: the full rate).
    public var efficiency: Double

    public init(interNode: Link, nodes: Nodes? = nil, overhead: Double = 0, efficiency: Double = 1) {
        precondition(overhead >= 0 && overhead.isFinite, "Network overhead must be finite and non-negative, got \(overhead)")
        precondition(efficiency > 0 && efficiency <= 1, "Network efficiency must be in (0, 1], got \(efficiency)")
        self.interNode = interNode
        self.nodes = nodes
        self.overhead = overhead
        self.efficiency = efficiency
    }

    /// A one-level network where every pair of workers talks over the same kind of link.
    public init(latency: Double, bandwidth: Double) {
        self.init(interNode: Link(latency: latency, bandwidth: bandwidth))
    }

    /// W, or 1 for a one-level network.
    public var workersPerNode: Int { nodes?.workersPerNode ?? 1 }

    /// Modelled seconds of one all-reduce of `bytes` (per worker) inside every group of
    /// `groupSize` consecutive workers among `workers` (G = K: the whole world): `overhead` plus
    /// the rings at `efficiency` times each link's rate. Zero for G = 1 and for 0 bytes: no
    /// message is sent (the MPI backend skips an empty buffer, e.g. the BatchNorm statistics of
    /// a model without BatchNorm).
    public func allReduceSeconds(bytes: Int, workers: Int, groupSize: Int) -> Double {
        precondition(groupSize >= 1 && workers % groupSize == 0,
                     "allReduceSeconds: group size \(groupSize) must divide \(workers) workers")
        guard groupSize > 1, bytes > 0 else { return 0 }
        return overhead + transferSeconds(bytes: Double(bytes), workers: workers, groupSize: groupSize)
    }

    /// Seconds process `process` waits at a lockstep collective for the others to arrive:
    /// every process starts it when the last one does, so it waits max_q s_q − s_p, where s_q is
    /// the wall-clock process q spent since the end of the previous collective (its compute,
    /// data loading and optimizer step). Zero for the slowest process, and for a single one.
    public static func waitForSlowest(secondsSinceLastSync: [Double], process: Int) -> Double {
        precondition(secondsSinceLastSync.indices.contains(process),
                     "waitForSlowest: process \(process) of \(secondsSinceLastSync.count)")
        return (secondsSinceLastSync.max() ?? 0) - secondsSinceLastSync[process]
    }

    /// The link as the collective sees it: bandwidth e·β.
    private func effective(_ link: Link) -> Link {
        efficiency == 1 ? link : Link(latency: link.latency, bandwidth: link.bandwidth * efficiency)
    }

    private func transferSeconds(bytes n: Double, workers: Int, groupSize: Int) -> Double {
        let inter = effective(interNode)
        guard let nodes, nodes.workersPerNode > 1 else {
            return inter.ringAllReduceSeconds(bytes: n, participants: groupSize)
        }
        let intra = effective(nodes.intraNode)
        let w = nodes.workersPerNode
        let everyGroupInOneNode = stride(from: 0, to: workers, by: groupSize).allSatisfy { first in
            first / w == (first + groupSize - 1) / w
        }
        if everyGroupInOneNode {
            return intra.ringAllReduceSeconds(bytes: n, participants: groupSize)
        }
        if groupSize % w == 0 {
            return intra.ringAllReduceSeconds(bytes: n, participants: w)
                + inter.ringAllReduceSeconds(bytes: n / Double(w), participants: groupSize / w)
        }
        return inter.ringAllReduceSeconds(bytes: n, participants: groupSize)
    }

    /// Modelled seconds of one compressed reduction whose payloads are `bytes` each (n_enc),
    /// inside every group of `groupSize` among `workers`, moved as `traffic` (see the type's comment).
    public func encodedExchangeSeconds(bytes: Int, workers: Int, groupSize: Int, traffic: EncodedTraffic) -> Double {
        switch traffic {
        case .reduceScatterAllGather:
            return allReduceSeconds(bytes: bytes, workers: workers, groupSize: groupSize)
        case .allGather:
            precondition(groupSize >= 1 && workers % groupSize == 0,
                         "encodedExchangeSeconds: group size \(groupSize) must divide \(workers) workers")
            guard groupSize > 1, bytes > 0 else { return 0 }
            let n = Double(bytes)
            if let nodes, nodes.workersPerNode > 1,
               stride(from: 0, to: workers, by: groupSize).allSatisfy({ $0 / nodes.workersPerNode == ($0 + groupSize - 1) / nodes.workersPerNode }) {
                return overhead + effective(nodes.intraNode).ringAllGatherSeconds(bytes: n, participants: groupSize)
            }
            return overhead + effective(interNode).ringAllGatherSeconds(bytes: n, participants: groupSize)
        }
    }
}
