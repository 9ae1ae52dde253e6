import Foundation
import Tensor
import TestSupport
import XCTest

/// `scripts/golden` against a stand-in for localsgd (a shell script whose "training" writes its
/// arguments and a salt as the model, and whose `--version` names the arithmetic version it is
/// given): the hashes are held to one arithmetic version, a hash cannot change under the same
/// version and environment, and a new version records every run.
final class GoldenScriptTests: XCTestCase {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testTheHashesAreHeldToOneArithmeticVersion() throws {
        let dir = NSTemporaryDirectory() + "localsgd-golden-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stub = dir + "/localsgd"
        try """
            #!/bin/sh
            if [ "$1" = --version ]; then echo "localsgd, arithmetic version $STUB_VERSION"; exit 0; fi
            out=""; previous=""
            for a in "$@"; do [ "$previous" = --out ] && out=$a; previous=$a; done
            mkdir -p "$out"
            echo "$2 $3 $STUB_SALT" > "$out/final.safetensors"

            """.write(toFile: stub, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub)
        let file = dir + "/hashes.txt"
        try "OPENBLAS_CORETYPE=Haswell\nDNNL_MAX_CPU_ISA=AVX2\nARITHMETIC_VERSION=7\na - run --x 1\nb - run --x 2\n"
            .write(toFile: file, atomically: true, encoding: .utf8)

        func golden(_ arguments: [String], version: Int, salt: String = "s") throws -> (status: Int32, output: String) {
            try runCapturingOutput(repository.appendingPathComponent("scripts/golden"),
                                   arguments + ["--bin", stub, "--file", file, "--out", dir + "/runs"],
                                   environment: ["STUB_VERSION": "\(version)", "STUB_SALT": salt])
        }
        func fileText() throws -> String { try String(contentsOfFile: file, encoding: .utf8) }

        var r = try golden(["record"], version: 7)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertFalse(try fileText().contains(" - run"), "both hashes recorded")
        r = try golden(["check"], version: 7)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("every hash is identical"), r.output)

        let recorded = try fileText()
        r = try golden(["record"], version: 7, salt: "other")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("nothing recorded: a b changed under the same arithmetic version 7"), r.output)
        XCTAssertEqual(try fileText(), recorded, "a refused record writes nothing")
        r = try golden(["check"], version: 7, salt: "other")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("DIFF"), r.output)

        r = try golden(["check"], version: 8)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("computes arithmetic version 8, the hashes in \(file) are of version 7"), r.output)
        r = try golden(["record", "a"], version: 8)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("record every run under a new version"), r.output)
        r = try golden(["record"], version: 6)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("older than the file's 7"), r.output)
        XCTAssertEqual(try fileText(), recorded)

        r = try golden(["record"], version: 8, salt: "other")
        XCTAssertEqual(r.status, 0, r.output)
        let bumped = try fileText()
        XCTAssertTrue(bumped.contains("\nARITHMETIC_VERSION=8\n"), bumped)
        XCTAssertNotEqual(try fileText(), recorded)
        r = try golden(["check"], version: 8, salt: "other")
        XCTAssertEqual(r.status, 0, r.output)
    }

    /// `--version` names the arithmetic version that `scripts/golden` and config.json use.
    func testVersionNamesTheArithmeticVersion() throws {
        var dir = Bundle(for: GoldenScriptTests.self).bundleURL.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("localsgd").path) {
            dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
        }
        let (status, text) = try runCapturingOutput(dir.appendingPathComponent("localsgd"), ["--version"])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(text, "localsgd, arithmetic version \(Arithmetic.version)\n")
    }
}
