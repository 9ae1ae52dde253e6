import Foundation

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                                 _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                                 _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The one input a fuzz target is running (libFuzzer calls a C function, which cannot capture).
nonisolated(unsafe) private var oneInput: ((Data) -> Void)?

/// Hands the command line to libFuzzer (`-runs`, `-max_total_time`, corpus folders, ...) and
/// calls `body` with every input it makes. A thrown error is an answer; only traps, hangs and
/// memory blow-ups are findings. SwiftPM's executables have their own `main`, so the targets
/// start libFuzzer through `LLVMFuzzerRunDriver` instead of linking libFuzzer's `main`.
public func fuzz(_ body: @escaping (Data) -> Void) -> Never {
    oneInput = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
        oneInput?(bytes.map { Data(bytes: $0, count: count) } ?? Data())
        return 0
    })
}

/// A scratch file for readers that take a path: in memory (/dev/shm) where there is one.
public func scratchFile(_ name: String) -> String {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let directory = base + "/localsgd-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory + "/" + name
}

/// Writes `data` to `path` (a plain write: the reader under test must not see an atomic rename).
public func put(_ data: Data, at path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: data)
}
