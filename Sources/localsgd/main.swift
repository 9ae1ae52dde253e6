import ArgumentParser
import Tensor

/// `localsgd`: communication-efficient data-parallel training (minibatch, local, post-local,
/// hierarchical SGD, SlowMo, asynchronous local SGD) and the experiments of the local-SGD trade-off study.
struct LocalSGD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "localsgd",
        abstract: "Communication-efficient data-parallel training: minibatch, local, post-local, hierarchical, asynchronous local SGD and SlowMo.",
        // The arithmetic version decides a run's numbers beside the CPU's kernels (`Arithmetic`).
        version: "localsgd, arithmetic version \(Arithmetic.version)",
        subcommands: [TrainCommand.self, LaunchCommand.self, SampleCommand.self, BenchCommand.self, SweepCommand.self, ReportCommand.self, StudyCommand.self])
}

restartWithBetterBLASKernelIfNeeded()
LocalSGD.main()
