import Foundation
import NN
import TestSupport
import XCTest
@testable import RunFiles

/// A GPT's model file holds nanoGPT's `state_dict` keys and shapes, `lm_head.weight` excepted
/// (tied to `transformer.wte.weight`, as nanoGPT's checkpoints load it), and loads back bitwise.
final class GPTModelFileTests: XCTestCase {
    func testGPTFileHasNanoGPTsKeysAndLoadsBack() throws {
        let net = try Network(ModelSpec(kind: .gptMicro, channels: 1, height: 1, width: 16, classes: 65))
        let replica = Replica(for: net)
        net.initialize(replica, seed: 3)
        let path = try makeTemporaryDirectory(self) + "/final.safetensors"
        try ModelFile.write(replica, network: net, batchesTracked: 0, to: path)
        let tensors = try Safetensors.read(path: path).tensors
        var keys = ["transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"]
        for i in 0..<2 {
            keys += ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                     "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                     "mlp.c_proj.weight", "mlp.c_proj.bias"].map { "transformer.h.\(i).\($0)" }
        }
        XCTAssertEqual(Set(tensors.keys), Set(keys))
        XCTAssertEqual(tensors["transformer.wte.weight"]?.shape, [65, 32])
        XCTAssertEqual(tensors["transformer.wpe.weight"]?.shape, [16, 32])
        XCTAssertEqual(tensors["transformer.h.1.attn.c_attn.weight"]?.shape, [96, 32])
        let again = Replica(for: net)
        try ModelFile.load(path, into: again, network: net)
        XCTAssertEqual(again.parameters.array, replica.parameters.array)
    }
}
