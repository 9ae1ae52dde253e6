import Foundation
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
        var saved = try ConfigLoader.parseFile(path + "/config.json")
        saved["derived"] = nil
        let config = try ConfigLoader.apply(saved, to: RunConfig(), source: path + "/config.json")
        if let problem = resumeProblem(path, checkpointEvery: config.execution.checkpointEvery) { throw FileError(path: path, description: problem) }
        return config
    }
}
