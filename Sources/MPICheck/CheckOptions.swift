import Comm
import Foundation

/// Command-line options of `localsgd-mpi-check` (plain parsing: this tool has no other
/// dependencies than the communicators it checks).
struct CheckOptions {
    enum FailMode: String { case kill, exit, hang }

    var workersPerRank = 1
    var reduction = ReductionMode.fast
    /// Floats per buffer in the correctness checks: more than two cache blocks, not a multiple of one.
    var count = 20_003
    var benchBytes: Int?
    var repeats = 21
    var failRank: Int?
    var failMode = FailMode.kill
    var timeout: Double?

    static let usage = """
        usage: mpirun -np P localsgd-mpi-check [--workers-per-rank W] [--reduction ordered|fast] [--count N] [--timeout SECONDS]
               mpirun -np P localsgd-mpi-check --bench BYTES [--repeats N]
               mpirun -np P localsgd-mpi-check --fail-rank R [--fail-mode kill|exit|hang] [--timeout SECONDS]
        Checks MPICommunicator against InProcessCommunicator and prints one line per check
        ("ok NAME MAXABSDIFF" or "FAIL ..."), bitwise with --reduction ordered; --bench times
        allReduceSum/Mean, fast and ordered, and the compressed means of --compress fp16, int8 and
        topk (ratio 0.01) against a raw MPI_Allreduce; --fail-rank makes rank R
        die (or hang) while the others are in collectives.
        """

    /// Parses `arguments` (without the program name); throws a sentence naming the bad flag.
    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let v = rest.popFirst() else { throw CheckError("\(flag) needs a value.\n\(Self.usage)") }
            return v
        }
        func integer(_ flag: String, atLeast minimum: Int) throws -> Int {
            let text = try value(flag)
            guard let n = Int(text), n >= minimum else {
                throw CheckError("\(flag) must be an integer ≥ \(minimum), got '\(text)'.")
            }
            return n
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--workers-per-rank": workersPerRank = try integer(flag, atLeast: 1)
            case "--count": count = try integer(flag, atLeast: 0)
            case "--reduction":
                let text = try value(flag)
                guard let mode = ReductionMode(rawValue: text) else {
                    throw CheckError("--reduction must be ordered or fast, got '\(text)'.")
                }
                reduction = mode
            case "--bench": benchBytes = try integer(flag, atLeast: 4)
            case "--repeats": repeats = try integer(flag, atLeast: 1)
            case "--fail-rank": failRank = try integer(flag, atLeast: 0)
            case "--fail-mode":
                let text = try value(flag)
                guard let mode = FailMode(rawValue: text) else {
                    throw CheckError("--fail-mode must be kill, exit or hang, got '\(text)'.")
                }
                failMode = mode
            case "--timeout":
                let text = try value(flag)
                guard let seconds = Double(text), seconds > 0 else {
                    throw CheckError("--timeout must be a positive number of seconds, got '\(text)'.")
                }
                timeout = seconds
            case "-h", "--help": throw CheckError(Self.usage)
            default: throw CheckError("unknown argument '\(flag)'.\n\(Self.usage)")
            }
        }
    }
}

/// A message for the user, printed to standard error before a non-zero exit.
struct CheckError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
