import CZlib
import Foundation

/// A checkpoint that cannot be used as it is on disk: a missing manifest or file, a size or
/// checksum that differs from the manifest's, bytes that do not parse. `Checkpoint` then falls
/// back to the checkpoint before; an incompatible but intact checkpoint is another error.
public struct CheckpointDamage: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong, naming the file ("worker-1.safetensors is 1000 bytes, its manifest says 2000").
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `manifest.json` of a checkpoint step directory (`CheckpointFiles`): every file of the step
/// with its size and CRC-32 (zlib's, as `crc32` and zip print it). Rank 0 writes it last, once
/// every process has confirmed its files, so a step with a manifest was written whole, and a file
/// changed since (cut short, a flipped bit) no longer matches it.
public struct CheckpointManifest: Codable, Equatable, Sendable {
    public static let currentFormat = 2

    public struct Entry: Codable, Equatable, Sendable {
        public var name: String
        public var bytes: Int
        /// Eight lowercase hex digits.
        public var crc32: String

        public init(name: String, bytes: Int, crc32: String) {
            self.name = name
            self.bytes = bytes
            self.crc32 = crc32
        }

        /// The entry of `data` written as `name`.
        public init(name: String, data: Data) {
            self.init(name: name, bytes: data.count, crc32: CheckpointManifest.crc32(data))
        }
    }

    /// 2: step directories (the per-rank files before were format 1 and had no manifest).
    public var format = currentFormat
    public var step: Int
    /// K, the workers of the run (one worker file each).
    public var workers: Int
    /// The shared file first, then the worker files in worker order.
    public var files: [Entry]

    public init(step: Int, workers: Int, files: [Entry]) {
        self.step = step
        self.workers = workers
        self.files = files
    }

    /// zlib's CRC-32 of `data` as eight hex digits.
    public static func crc32(_ data: Data) -> String {
        let value = data.withUnsafeBytes { raw -> UInt in
            var crc = CZlib.crc32(0, nil, 0)
            var at = 0
            while at < raw.count {
                let n = min(raw.count - at, 1 << 30)  // zlib takes 32-bit lengths
                crc = CZlib.crc32(crc, raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + at, UInt32(n))
                at += n
            }
            return crc
        }
        return String(format: "%08x", UInt32(truncatingIfNeeded: value))
    }

    /// Writes `directory/manifest.json` atomically.
    public func write(to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: directory + "/" + CheckpointFiles.manifestFile)
    }

    /// The manifest of the step directory `directory`, which must be of `step`.
    public static func read(_ directory: String, step: Int) throws -> CheckpointManifest {
        let path = directory + "/" + CheckpointFiles.manifestFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointDamage("it has no \(CheckpointFiles.manifestFile) (its writing was cut short)")
        }
        let data: Data
        do {
            data = try AtomicFile.read(path, maxBytes: 1 << 26)
        } catch {
            throw CheckpointDamage("\(error)")
        }
        guard let manifest = try? JSONDecoder().decode(CheckpointManifest.self, from: data) else {
            throw CheckpointDamage("its \(CheckpointFiles.manifestFile) is not a checkpoint manifest")
        }
        guard manifest.format == currentFormat, manifest.step == step else {
            throw CheckpointDamage("its \(CheckpointFiles.manifestFile) is of step \(manifest.step), format \(manifest.format)")
        }
        return manifest
    }

    /// The bytes of the file `name` of the step directory `directory`, after checking them
    /// against this manifest.
    public func contents(of name: String, in directory: String) throws -> Data {
        guard let entry = files.first(where: { $0.name == name }) else {
            throw CheckpointDamage("its \(CheckpointFiles.manifestFile) does not list \(name)")
        }
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { throw CheckpointDamage("\(name) is missing") }
        let data: Data
        do {
            data = try AtomicFile.read(path)
        } catch {
            throw CheckpointDamage("\(error)")
        }
        guard data.count == entry.bytes else {
            throw CheckpointDamage("\(name) is \(data.count) bytes, its manifest says \(entry.bytes) (cut short or overwritten)")
        }
        let crc = Self.crc32(data)
        guard crc == entry.crc32 else {
            throw CheckpointDamage("\(name) has CRC-32 \(crc), its manifest says \(entry.crc32) (its bytes changed since it was written)")
        }
        return data
    }
}
