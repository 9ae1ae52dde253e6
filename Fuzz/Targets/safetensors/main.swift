// safetensors files (model files, checkpoints): the header, every tensor's values, a checkpoint's run state.
import Foundation
import FuzzSupport
@testable import RunFiles
import Training

fuzz { bytes in
    guard let file = try? Safetensors.decode(bytes, file: "input.safetensors") else { return }
    for tensor in file.tensors.values {
        _ = try? Safetensors.floatArray(tensor)
        _ = try? Safetensors.int64Array(tensor)
    }
    if let json = file.metadata["localsgd.checkpoint"] {
        _ = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8))
    }
}
