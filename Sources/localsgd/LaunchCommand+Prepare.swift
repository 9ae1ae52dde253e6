import ArgumentParser
import Config
import Foundation
import Launch
import RunFiles
import Training

/// Everything a launch needs, checked before anything starts.
struct PreparedLaunch {
    var placement: Placement
    var policy: RestartPolicy
    /// The run directory (`--out` or `--resume` of the train arguments).
    var directory: String
    var startResumed: Bool
    var mpirun: String
    var mpirunArguments: [String]
    var executable: String
    /// `train` arguments of a job that starts the run, and of one that continues it.
    var freshArguments: [String]
    var resumeArguments: [String]
    var quiet: Bool
    var warnings: [String]
}

extension LaunchCommand {
    /// Checks the launch and the train arguments (parsed and resolved as `localsgd train` does)
    /// and finds mpirun; every problem is a sentence naming the flag.
    func prepare() throws -> PreparedLaunch {
        let placement = try makePlacement()
        let ranks = np ?? placement.slots
        let mpirunWords = try CommandLineWords.split(mpirunArgs)
        if !placement.isLocal && ranks > placement.slots && !mpirunWords.contains("--oversubscribe") {
            throw LaunchError("--np \(ranks) is more than the \(placement.slots) slots of the hosts; give them more slots, or add --oversubscribe to --mpirun-args")
        }
        var arguments = trainArguments
        if !CommandLineWords.contains("--backend", in: arguments) { arguments += ["--backend", "mpi"] }
        let train: TrainCommand
        do {
            train = try TrainCommand.parse(arguments)
        } catch {
            throw LaunchError("the train arguments after -- are not valid: \(TrainCommand.message(for: error))")
        }
        guard let directory = train.resume ?? train.out else {
            throw LaunchError("the train arguments must include --out DIR: the run, its checkpoints and events.jsonl go there")
        }
        let config: RunConfig
        do {
            config = try train.resolveConfig()
        } catch {
            throw LaunchError("the train arguments after --: \(error)")
        }
        guard config.execution.backend == .mpi else {
            throw LaunchError("launch runs --backend mpi; leave --backend \(config.execution.backend.rawValue) out of the train arguments")
        }
        guard let every = config.execution.checkpointEvery, !every.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw LaunchError("the train arguments must include --checkpoint-every N (steps, or Ne for epochs): a restart continues from the newest checkpoint")
        }
        let policy = RestartPolicy(workers: config.algorithm.workers, ranks: ranks, minRanks: minRanks, maxRestarts: maxRestarts)
        if let problem = policy.problem { throw LaunchError(problem) }
        try checkDirectory(directory, resuming: train.resume != nil, checkpointEvery: every)
        let mpirun = try findMpirun()
        _ = try config.execution.backend.make()  // a build without MPI says so here
        let extra = CommandLineWords.contains("--progress-json", in: arguments) ? [] : ["--progress-json"]
        let fresh = arguments + extra + ["--progress-interval", "0"]
        return PreparedLaunch(
            placement: placement, policy: policy, directory: directory, startResumed: train.resume != nil,
            mpirun: mpirun, mpirunArguments: mpirunWords, executable: SweepCommand.executablePath(),
            freshArguments: fresh,
            resumeArguments: train.resume != nil ? fresh : CommandLineWords.removing("--out", from: fresh) + ["--resume", directory],
            quiet: train.quiet,
            warnings: config.execution.collectiveTimeout > 0 ? [] : [
                "no --collective-timeout in the train arguments: a rank that hangs (rather than dies) stops the run until launch is interrupted",
            ])
    }

    func makePlacement() throws -> Placement {
        if let host { return Placement(source: .hostList, hosts: try Placement.parseHostList(host)) }
        if let hostfile {
            guard let text = try? String(contentsOfFile: hostfile, encoding: .utf8) else {
                throw LaunchError("cannot read --hostfile \(hostfile)")
            }
            return Placement(source: .hostfile(hostfile), hosts: try Placement.parseHostfile(text, path: hostfile))
        }
        return .local(ranks: np ?? 1)
    }

    /// A new run's directory must not hold a run; a continued one must have a checkpoint.
    func checkDirectory(_ directory: String, resuming: Bool, checkpointEvery: String) throws {
        let folder = RunFolder.directory(directory)
        if folder.isFinished() {
            throw LaunchError("\(directory) holds a finished run (summary.json); choose another --out")
        }
        if resuming {
            if let problem = RunDirectory.resumeProblem(directory, checkpointEvery: checkpointEvery) { throw LaunchError(problem) }
        } else if let newest = folder.checkpoints().max() {
            throw LaunchError("\(directory) already holds a run that stopped at its checkpoint of step \(newest); continue it under launch with --resume \(directory) in place of --out \(directory)")
        }
    }

    /// --mpirun, or mpirun on PATH.
    func findMpirun() throws -> String {
        if let mpirun {
            guard FileManager.default.isExecutableFile(atPath: mpirun) else {
                throw LaunchError("--mpirun \(mpirun) is not an executable file")
            }
            return mpirun
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: dir + "/mpirun") {
            return dir + "/mpirun"
        }
        throw LaunchError("no mpirun on PATH: install Open MPI (apt-get install openmpi-bin libopenmpi-dev) or give --mpirun PATH")
    }
}

extension RunFolder {
    /// The run directory at `path`: finished when it holds summary.json; its checkpoints are the
    /// step directories of `checkpoints/` with their manifest, which resume on any rank count
    /// dividing K (`CheckpointFiles`), and per-rank files of older versions, of the steps every
    /// rank holds.
    static func directory(_ path: String) -> RunFolder {
        let dir = path + "/checkpoints"
        return RunFolder(
            path: path,
            isFinished: { FileManager.default.fileExists(atPath: path + "/summary.json") },
            checkpoints: {
                let complete = CheckpointFiles.stepDirectories(in: dir).filter { CheckpointFiles.hasManifest(dir + "/" + $0.name) }.map(\.step)
                let legacy = CheckpointFiles.legacyFiles(in: dir).compactMap { file -> (step: Int, rank: Int)? in
                    guard let rank = Int(file.name.dropLast(".safetensors".count).split(separator: "-").last ?? "") else { return nil }
                    return (file.step, rank)
                }
                let ranks = Set(legacy.map(\.rank)).count
                return complete + (RestartPolicy.newestCommonStep(legacy, ranks: ranks).map { [$0] } ?? [])
            },
            discardCheckpoints: {
                let names = CheckpointFiles.stepDirectories(in: dir).map(\.name) + CheckpointFiles.legacyFiles(in: dir).map(\.name)
                return names.filter { (try? FileManager.default.removeItem(atPath: dir + "/" + $0)) != nil }.count
            })
    }
}
