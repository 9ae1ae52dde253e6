/// How a backend that spreads workers over processes adds their buffers (`--reduction`).
///
/// The in-process backend always adds in worker order (`GroupReduction`): element `i` of a group
/// (w₀, …, w_{G−1}) is `((w₀[i] + w₁[i]) + …) + w_{G−1}[i]` in `Float`, the mean dividing by
/// `Float(G)` in the same expression as the last addend. Float addition is not associative, so
/// another order gives other roundings.
public enum ReductionMode: String, Codable, CaseIterable, Sendable {
    /// Exactly the in-process order for any layout of workers over processes (MPI: a pipelined
    /// chain over the ranks in rank order, then a broadcast), so runs are bitwise the in-process
    /// runs. Costs more than `fast` (docs/MPI.md).
    case ordered
    /// The library's own all-reduce (`MPI_Allreduce`), which adds in an order of its choosing:
    /// equal to the in-process result to rounding, bitwise only with one worker per process and
    /// K = 2 (the default).
    case fast
}
