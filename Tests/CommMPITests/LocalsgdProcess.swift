import Foundation
import Training

/// Runs the `localsgd` binary built beside the test bundle, directly or under mpirun (allowed to
/// run as root), and reads what a run wrote.
enum LocalsgdProcess {
    private final class BundleToken {}

    /// The `localsgd` next to the test bundle (Linux gives the bundle's folder or the bundle itself).
    static var localsgd: URL {
        let bundle = Bundle(for: BundleToken.self).bundleURL
        let candidates = [bundle.appendingPathComponent("localsgd"),
                          bundle.deletingLastPathComponent().appendingPathComponent("localsgd")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    static var mpirun: URL? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
            .map { URL(fileURLWithPath: $0) }
    }

    /// A process of `executable` allowed to run mpirun as root, stdout and stderr into `pipe`.
    static func process(_ executable: URL, _ arguments: [String], output pipe: Pipe) -> Process {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        p.environment = env
        p.standardOutput = pipe
        p.standardError = pipe
        return p
    }

    static func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let pipe = Pipe()
        let p = process(executable, arguments, output: pipe)
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `mpirun --oversubscribe -np RANKS localsgd ARGUMENTS`.
    static func runMPI(ranks: Int, _ arguments: [String], mpirun: URL) throws -> (status: Int32, output: String) {
        try run(mpirun, ["--oversubscribe", "-np", String(ranks), localsgd.path] + arguments)
    }

    static func weights(_ dir: String) throws -> [String: [Float]] {
        try Safetensors.read(path: dir + "/final.safetensors").tensors
            .filter { $0.value.dtype == "F32" }.mapValues { try Safetensors.floatArray($0) }
    }

    static func summary(_ dir: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
    }
}
