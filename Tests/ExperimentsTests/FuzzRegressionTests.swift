import Comm
@testable import Data
import Experiments
import Foundation
import Config
import RunFiles
import TestSupport
@testable import Training
import XCTest

/// Every input committed for the fuzz targets (Fuzz/corpus: seeds; Fuzz/regressions: inputs
/// that once trapped, hung or blew up memory) goes through the parser its target fuzzes, in the
/// normal test run: each returns or throws within a second, and every regression input is
/// refused with a sentence naming its file.
final class FuzzRegressionTests: XCTestCase {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// What each target does with one input written to `path` (Fuzz/Targets/*/main.swift), throwing
    /// the first error a reader gave.
    static let targets: [String: (_ bytes: Data, _ directory: String) throws -> Void] = [
        "idx": { bytes, dir in
            let path = try file(bytes, dir, "input-idx")
            _ = try IDXReader.readArray(path, magic: bytes.prefix(4) == Data([0, 0, 8, 1]) ? IDXReader.labelsMagic : IDXReader.imagesMagic,
                                        kind: "image")
        },
        "cifar": { bytes, dir in
            let path = try file(bytes, dir, "input.bin")
            _ = try CIFARReader.read([path], layout: CIFARReader.layout(bytes.count % 3073 == 0 ? .cifar10 : .cifar100))
        },
        "safetensors": { bytes, _ in
            let file = try Safetensors.decode(bytes, file: "input.safetensors")
            for tensor in file.tensors.values where tensor.dtype == "F32" { _ = try Safetensors.floatArray(tensor) }
            if let json = file.metadata["localsgd.checkpoint"] { _ = try JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)) }
        },
        "toml": { bytes, dir in _ = try ConfigLoader.load(try file(bytes, dir, "input.toml")) },
        "yaml": { bytes, dir in _ = try ConfigLoader.load(try file(bytes, dir, "input.yaml")) },
        "json": { bytes, dir in _ = try ConfigLoader.load(try file(bytes, dir, "input.json")) },
        "sweep": { bytes, dir in
            let format = ["toml", "yaml", "json"][Int(bytes.first ?? 0) % 3]
            _ = try SweepSpec.load(try file(bytes.dropFirst(), dir, "input-sweep." + format)).expand(threads: 1)
        },
        "network": { bytes, _ in _ = try NetworkModel(parsing: String(decoding: bytes, as: UTF8.self)) },
        "checkpoint-every": { bytes, _ in
            let text = String(decoding: bytes, as: UTF8.self)
            guard let period = CheckpointPeriod(parsing: text) else { throw ConfigError("input: no period") }
            _ = period.interval(stepsPerEpoch: 1 << 30)
            _ = try ConfigLoader.apply(["checkpoint_every": text], to: RunConfig(), source: ConfigLoader.commandLine)
        },
    ]

    static func file(_ bytes: Data, _ directory: String, _ name: String) throws -> String {
        let path = directory + "/" + name
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The files of Fuzz/`kind`/`target`, by name.
    func inputs(_ kind: String, _ target: String) throws -> [URL] {
        let folder = Self.fuzzFolder.appendingPathComponent(kind).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { folder.appendingPathComponent($0) }
    }

    func testEveryTargetHasSeedsAndATestHarness() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.fuzzFolder.appendingPathComponent("Targets").path)
        XCTAssertEqual(Set(folders), Set(Self.targets.keys))
        for target in folders { XCTAssertFalse(try inputs("corpus", target).isEmpty, "Fuzz/corpus/\(target) is empty") }
    }

    func testSeedsAndRegressionsReturnQuicklyAndRegressionsAreRefusedWithASentence() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        var regressions = 0
        for (target, harness) in Self.targets.sorted(by: { $0.key < $1.key }) {
            for kind in ["corpus", "regressions"] {
                for input in try inputs(kind, target) {
                    let bytes = try Data(contentsOf: input)
                    let (seconds, outcome) = threadCPUSeconds { Result { try harness(bytes, dir) } }
                    XCTAssertLessThan(seconds, 1, "\(target)/\(input.lastPathComponent): CPU seconds")
                    guard kind == "regressions" else { continue }
                    regressions += 1
                    guard case .failure(let error) = outcome else {
                        XCTFail("Fuzz/regressions/\(target)/\(input.lastPathComponent) was accepted")
                        continue
                    }
                    XCTAssertTrue("\(error)".contains("input"), "'\(error)' names no file")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(regressions, 3)
    }

    /// The three YAML inputs that trapped or blew up before ConfigLimits, each with its sentence.
    func testYAMLRegressionsGiveTheirSentences() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let expected = ["alias-bomb.yaml": "expands to more than 100000 values",
                        "nesting-5000.yaml": "nests lists and tables deeper than 32 levels",
                        "non-scalar-key.yaml": "has a list or table as a key; keys must be names (line 1)"]
        for (name, phrase) in expected {
            let bytes = try Data(contentsOf: Self.fuzzFolder.appendingPathComponent("regressions/yaml/" + name))
            XCTAssertThrowsError(try Self.targets["yaml"]!(bytes, dir)) { error in
                XCTAssertTrue("\(error)".contains(phrase), "\(name): \(error)")
            }
        }
    }
}
