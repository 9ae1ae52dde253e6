import Foundation
import RunFiles
import Training
import XCTest

/// Starting `localsgd` under mpirun from tests, and reading what runs wrote.
enum MPIRun {
    /// mpirun's path, or a skip when Open MPI's launcher is not installed.
    static func mpirun() throws -> String {
        guard let path = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("mpirun is not installed")
        }
        return path
    }

    /// The `localsgd` built beside the test bundle (Linux gives the bundle's folder or the bundle itself).
    static var localsgd: URL {
        let bundle = Bundle(for: TrainingOverMPITests.self).bundleURL
        let candidates = [bundle.appendingPathComponent("localsgd"),
                          bundle.deletingLastPathComponent().appendingPathComponent("localsgd")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
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

    /// Runs `executable` to its end (terminated after `timeout` seconds, so no test hangs).
    static func run(_ executable: URL, _ arguments: [String], timeout: Double = 300) throws -> (status: Int32, output: String) {
        let pipe = Pipe()
        let p = process(executable, arguments, output: pipe)
        try p.run()
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `mpirun --oversubscribe -np ranks localsgd ARGUMENTS`.
    static func launch(ranks: Int, _ arguments: [String], timeout: Double = 300) throws -> (status: Int32, output: String) {
        try run(URL(fileURLWithPath: try mpirun()), ["--oversubscribe", "-np", String(ranks), localsgd.path] + arguments, timeout: timeout)
    }

    /// The float tensors of `dir/final.safetensors` by name.
    static func weights(_ dir: String) throws -> [String: [Float]] {
        try Safetensors.read(path: dir + "/final.safetensors").tensors
            .filter { $0.value.dtype == "F32" }.mapValues { try Safetensors.floatArray($0) }
    }

    /// What `dir/summary.json` holds.
    static func summary(_ dir: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
    }

    /// The pid of a live process under `root` (never another job's rank on a shared machine) whose
    /// environment holds `entry` and whose command line contains `text`.
    static func pid(withEnvironment entry: String, commandContaining text: String, descendantOf root: pid_t) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in entries {
            guard let pid = pid_t(name), pid != getpid(), isDescendant(pid, of: root),
                  let command = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
                  String(decoding: command, as: UTF8.self).contains(text),
                  let environment = FileManager.default.contents(atPath: "/proc/\(name)/environ") else { continue }
            if environment.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == entry }) { return pid }
        }
        return nil
    }

    /// Whether `root` is among `pid`'s ancestors (parents read from /proc/PID/stat).
    static func isDescendant(_ pid: pid_t, of root: pid_t) -> Bool {
        var current = pid
        while current > 1 {
            guard let stat = FileManager.default.contents(atPath: "/proc/\(current)/stat"),
                  let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return false }
            // "pid (comm) state ppid ...": the comm may hold spaces and parentheses, so read after the last ')'.
            let fields = String(decoding: stat[(close + 1)...], as: UTF8.self).split(separator: " ")
            guard fields.count > 1, let parent = pid_t(fields[1]) else { return false }
            if parent == root { return true }
            current = parent
        }
        return false
    }
}
