import ArgumentParser
import Foundation
import Launch
import Training

/// `localsgd launch`: runs `localsgd train --backend mpi` under mpirun and, when a rank dies or
/// hangs, probes the hosts and continues the run from its newest checkpoint (issue 17, part 2).
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run `localsgd train --backend mpi` under mpirun and restart it from its newest checkpoint when a rank dies or hangs.",
        discussion: """
        Everything after -- goes to `localsgd train` (--backend mpi is added); it must include \
        --out DIR (or --resume DIR to continue a run under launch) and --checkpoint-every, and \
        should include --collective-timeout SECONDS, without which a hung rank is never noticed. \
        Launch checks those arguments as `localsgd train` would before starting anything.

        When the job fails (a rank died: mpirun exits non-zero; a rank hung: the collective \
        timeout aborts with exit code 124; mpirun could not start on a host) and DIR holds no \
        summary.json, launch probes every host (`mpirun -np 1 --host H true`, bounded by \
        --probe-timeout) and restarts with `train --resume DIR` on the largest rank count that \
        divides --workers, is at least --min-ranks and fits on the hosts that answered, at most \
        --max-restarts times. A failure of the run itself (`localsgd: error:` from train, e.g. \
        bad data or a diverged model) is not restarted. A checkpoint continues on any rank count \
        that divides --workers, so a restart on fewer ranks trains on from it bitwise (checkpoints \
        of older versions, one file per rank, only on as many ranks as wrote them; train then \
        refuses with a sentence and launch gives up quoting it).

        Every event (start, failure, probe, restart, resumed, finished, gave-up, interrupted) is \
        a line of DIR/events.jsonl and one line on the console; at the end launch prints the \
        restarts, the total time, the time lost and the steps redone. Ctrl-C or SIGTERM stops \
        mpirun and its ranks and is recorded. Exit status: 0 when the run finished, 1 when \
        launch gave up, 128+signal when interrupted.

        Example: localsgd launch --np 2 --max-restarts 3 -- --workers 2 --model cnn \
        --checkpoint-every 200 --collective-timeout 60 --out runs/cnn
        """)

    @Option(help: "Ranks to start (default: the slots of --host or --hostfile; on this machine alone --np is required).")
    var np: Int?
    @Option(help: "Open MPI hostfile: one host per line as `name slots=N` (a host without slots= has one slot).")
    var hostfile: String?
    @Option(help: "Hosts and their slots, e.g. a:2,b:2 (a host without :N has one slot).")
    var host: String?
    @Option(help: "Fewest ranks a restart may use (it must divide --workers); below it launch gives up.")
    var minRanks = 1
    @Option(help: "Restarts after failures before launch gives up.")
    var maxRestarts = 3
    @Option(help: "The mpirun to use (default: mpirun on PATH).")
    var mpirun: String?
    @Option(parsing: .unconditional,
            help: "Extra mpirun arguments, split like a shell would, before the placement, e.g. \"--bind-to none --mca btl tcp,self\".")
    var mpirunArgs = ""
    @Option(help: "Seconds a host's health probe may take before the host counts as unusable.")
    var probeTimeout = 10.0
    @Argument(parsing: .postTerminator, help: "-- then the `localsgd train` arguments.")
    var trainArguments: [String] = []

    func validate() throws {
        if host != nil && hostfile != nil { throw ValidationError("give --host or --hostfile, not both") }
        if np == nil && host == nil && hostfile == nil {
            throw ValidationError("give the ranks: --np N on this machine, or --host/--hostfile for several hosts")
        }
        if let np, np < 1 { throw ValidationError("--np must be at least 1, got \(np)") }
        if minRanks < 1 { throw ValidationError("--min-ranks must be at least 1, got \(minRanks)") }
        if maxRestarts < 0 { throw ValidationError("--max-restarts must be 0 or more, got \(maxRestarts)") }
        if !(probeTimeout > 0 && probeTimeout <= 3600) { throw ValidationError("--probe-timeout must be in (0, 3600] seconds, got \(probeTimeout)") }
        if trainArguments.isEmpty {
            throw ValidationError("give the `localsgd train` arguments after --, e.g. -- --workers 2 --checkpoint-every 100 --out runs/a")
        }
    }

    func run() throws {
        let outcome: Supervisor.Outcome
        do {
            outcome = try reportingErrors { try supervise(prepare()) }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
        switch outcome {
        case .finished: return
        case .gaveUp: throw ExitCode.failure
        case .interrupted(let signal): throw ExitCode(128 + signal)
        }
    }

    /// Runs the supervisor with the console and the event log, until the run finishes, launch
    /// gives up, or a signal stops it.
    func supervise(_ launch: PreparedLaunch) throws -> Supervisor.Outcome {
        do {
            try FileManager.default.createDirectory(atPath: launch.directory, withIntermediateDirectories: true)
        } catch {
            throw LaunchError("cannot create the run directory \(launch.directory): \(error.localizedDescription)")
        }
        let log = EventLog(directory: launch.directory)
        var logFailure: Error?
        let runner = MPIJobRunner(
            mpirun: launch.mpirun, mpirunArguments: launch.mpirunArguments, placement: launch.placement,
            environment: MPIJobRunner.environment(root: geteuid() == 0), probeTimeout: probeTimeout,
            command: { job in [launch.executable, "train"] + (job.resume ? launch.resumeArguments : launch.freshArguments) },
            output: { stream, line in
                if stream == .stdout {
                    print(line)
                    fflush(stdout)
                } else {
                    Console.status(line)
                }
            })
        let supervisor = Supervisor(placement: launch.placement, policy: launch.policy, runner: runner, folder: .directory(launch.directory),
                                    startResumed: launch.startResumed) { event in
            Console.status(event.line)
            do { try log.append(event) } catch { logFailure = logFailure ?? error }
        }
        var lastLine = Date.distantPast
        supervisor.onProgress = { p in
            guard !launch.quiet, Date().timeIntervalSince(lastLine) >= 2 else { return }
            lastLine = Date()
            Console.status(Console.progressLine(p))
        }
        let handlers = [SIGINT, SIGTERM].map { signalNumber -> DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                Console.status("launch: \(signalNumber == SIGINT ? "SIGINT" : "SIGTERM"): stopping mpirun and its ranks")
                supervisor.interrupt(signal: signalNumber)
            }
            source.resume()
            return source
        }
        defer { handlers.forEach { $0.cancel() } }
        for warning in launch.warnings { Console.status("launch: warning: " + warning) }
        let report = supervisor.run()
        if let logFailure { Console.error("\(logFailure)") }
        return report.outcome
    }
}
