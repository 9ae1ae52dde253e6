import Foundation

/// Runs `executable` with `arguments` and `environment` (this process's, with these values set
/// over it), standard output and error together; returns its exit status and what it printed.
public func runCapturingOutput(_ executable: URL, _ arguments: [String],
                               environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let child = Process()
    child.executableURL = executable
    child.arguments = arguments
    child.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    child.standardOutput = output
    child.standardError = output
    try child.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    child.waitUntilExit()
    return (child.terminationStatus, text)
}
