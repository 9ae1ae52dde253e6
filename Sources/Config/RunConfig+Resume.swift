import Foundation
import NN
import RunFiles

extension RunDirectory {
    /// The config of the run in `path` for `--resume` (from its config.json), or an error saying
    /// why that run cannot be continued and how to start it again, before anything is loaded.
    public static func configToResume(_ path: String) throws -> RunConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(path: path, description: "--resume \(path): no such run directory")
        }
        guard FileManager.default.fileExists(atPath: path + "/config.json") else {
            throw FileError(path: path, description: "--resume \(path): it holds no config.json, so the run stopped before it started; start it again with --out \(path)")
        }
        let config = try RunDirectory.savedConfig(path + "/config.json")
        if let problem = resumeProblem(path, checkpointEvery: config.execution.checkpointEvery) { throw FileError(path: path, description: problem) }
        return config
    }

    /// The config a run's `config.json` records (without `derived`). A field the file does not
    /// name takes the value it had before the field existed where that differs from today's
    /// default (`RunConfig.convBackendBeforeTheField`), so an older run resumes, or is matched
    /// by a sweep, with the settings it ran with.
    public static func savedConfig(_ file: String) throws -> RunConfig {
        var saved = try ConfigLoader.parseFile(file)
        saved["derived"] = nil
        if saved["conv_backend"] == nil { saved["conv_backend"] = RunConfig.convBackendBeforeTheField.rawValue }
        return try ConfigLoader.apply(saved, to: RunConfig(), source: file)
    }
}
