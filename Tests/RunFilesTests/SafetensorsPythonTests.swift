import Foundation
import TestSupport
import XCTest
@testable import RunFiles

/// Cross-checks against the reference implementation (Python `safetensors` with NumPy), which
/// is what a user loading our checkpoints will run. Skipped when the interpreter named by the
/// PYTHON environment variable (default `python3`) cannot import both packages.
final class SafetensorsPythonTests: XCTestCase {
    private var python: String { ProcessInfo.processInfo.environment["PYTHON"] ?? "python3" }

    /// Runs `script` (its argv[1...] = `arguments`); returns the exit status and stdout.
    private func run(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    override func setUpWithError() throws {
        let probe = try run("import safetensors.numpy, numpy")
        try XCTSkipUnless(probe.status == 0, "\(python) cannot import safetensors and numpy")
    }

    /// Our file, loaded by `safetensors.numpy.load_file`: every value equal (tolerance 0; float32
    /// values are printed as exact float64 by `tolist()`), dtypes and shapes as written.
    func testPythonReadsOurFile() throws {
        let weights = (0..<24).map { Float($0) * 0.125 - 1.3 }
        let steps: [Int64] = [7, -3, 1 << 40]
        let tensors = [
            SafetensorsTensor(name: "layer.weight", dtype: "F32", shape: [2, 3, 4],
                              data: weights.withUnsafeBufferPointer { Safetensors.floats($0.baseAddress!, count: 24) }),
            SafetensorsTensor(name: "step", dtype: "I64", shape: [3], data: Safetensors.int64s(steps)),
        ]
        let path = try makeTemporaryDirectory(self) + "/ours.safetensors"
        try Safetensors.write(tensors, metadata: ["format": "pt"], to: path)

        let script = """
        import json, sys
        from safetensors import safe_open
        from safetensors.numpy import load_file
        t = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="np") as f: meta = f.metadata()
        print(json.dumps({"meta": meta, "tensors": {k: [str(v.dtype), list(v.shape), v.ravel().tolist()] for k, v in t.items()}}))
        """
        let result = try run(script, [path])
        XCTAssertEqual(result.status, 0, "python could not load the file")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        XCTAssertEqual(json["meta"] as? [String: String], ["format": "pt"])
        let loaded = try XCTUnwrap(json["tensors"] as? [String: [Any]])
        XCTAssertEqual(loaded["layer.weight"]?[0] as? String, "float32")
        XCTAssertEqual(loaded["layer.weight"]?[1] as? [Int], [2, 3, 4])
        XCTAssertEqual((loaded["layer.weight"]?[2] as? [Double])?.map { Float($0) }, weights)
        XCTAssertEqual(loaded["step"]?[0] as? String, "int64")
        XCTAssertEqual((loaded["step"]?[2] as? [Int])?.map(Int64.init), steps)
    }

    /// A file written by `safetensors.numpy.save_file` (its own header order and padding) reads
    /// back with the same values (tolerance 0).
    func testWeReadPythonsFile() throws {
        let path = try makeTemporaryDirectory(self) + "/theirs.safetensors"
        let script = """
        import sys, numpy as np
        from safetensors.numpy import save_file
        save_file({"b.bias": np.arange(5, dtype=np.float32) / 3,
                   "a.weight": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
                   "idx": np.array([[1, -2], [3, 2**62]], dtype=np.int64)},
                  sys.argv[1], metadata={"epoch": "3"})
        """
        XCTAssertEqual(try run(script, [path]).status, 0, "python could not write the file")
        let (tensors, metadata) = try Safetensors.read(path: path)
        XCTAssertEqual(metadata, ["epoch": "3"])
        XCTAssertEqual(tensors["b.bias"]?.shape, [5])
        XCTAssertEqual(try Safetensors.floatArray(XCTUnwrap(tensors["b.bias"])), (0..<5).map { Float($0) / 3 })
        XCTAssertEqual(tensors["a.weight"]?.shape, [3, 4])
        let linspace = try Safetensors.floatArray(XCTUnwrap(tensors["a.weight"]))
        XCTAssertEqual(linspace.first, -1)
        XCTAssertEqual(linspace.last, 1)
        XCTAssertEqual(tensors["idx"]?.shape, [2, 2])
        XCTAssertEqual(try Safetensors.int64Array(XCTUnwrap(tensors["idx"])), [1, -2, 3, 1 << 62])
    }
}
