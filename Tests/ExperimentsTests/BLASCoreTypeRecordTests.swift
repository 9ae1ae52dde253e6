import Config
import Experiments
import Foundation
import Tensor
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// config.json records OpenBLAS's kernel family and the arithmetic version, and a resume under
/// another one says that the numbers will not continue bitwise.
final class BLASCoreTypeRecordTests: XCTestCase {
    func testResumeUnderAnotherKernelFamilyWarns() throws {
        let dir = try makeTemporaryDirectory(self) + "/run"
        let config = tinyConfig { $0.schedule.epochs = 1; $0.execution.checkpointEvery = "4"; $0.data.syntheticTrain = 96; $0.data.syntheticTest = 16 }
        _ = try RunDriver.run(config, out: dir)
        let file = URL(fileURLWithPath: dir + "/config.json")
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        var derived = try XCTUnwrap(object["derived"] as? [String: Any])
        XCTAssertEqual(derived["blas_core_type"] as? String, BLAS.coreName)

        func warningsOnResume() throws -> [String] {
            try? FileManager.default.removeItem(atPath: dir + "/summary.json")
            try? FileManager.default.removeItem(atPath: dir + "/final.safetensors")
            var warnings: [String] = []
            _ = try RunDriver.run(config, out: dir, resume: true) { event in
                if case .warning(let text) = event { warnings.append(text) }
            }
            return warnings
        }
        XCTAssertEqual(try warningsOnResume(), [], "same kernels: no warning")

        derived["blas_core_type"] = "Imaginary"
        object["derived"] = derived
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        let warnings = try warningsOnResume()
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("Imaginary kernels and resumes with \(BLAS.coreName)") == true, "\(warnings)")

        // A run started by a localsgd of another arithmetic version, and the record kept.
        derived["blas_core_type"] = BLAS.coreName
        XCTAssertEqual(derived["arithmetic_version"] as? Int, Arithmetic.version)
        derived["arithmetic_version"] = Arithmetic.version + 1
        object["derived"] = derived
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        let newer = try warningsOnResume()
        XCTAssertEqual(newer.count, 1)
        XCTAssertTrue(newer.first?.contains("arithmetic version \(Arithmetic.version + 1) and resumes with version \(Arithmetic.version)") == true,
                      "\(newer)")
        let kept = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        XCTAssertEqual((kept["derived"] as? [String: Any])?["arithmetic_version"] as? Int, Arithmetic.version + 1)
    }
}
