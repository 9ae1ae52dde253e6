import Foundation
import NN
import Tensor

/// Model weights as safetensors with PyTorch's names and layouts (`fc1.weight` [out, in],
/// convolutions [out, in, kh, kw], `bn1.running_mean`, and `num_batches_tracked` as int64), so
/// `model.load_state_dict(safetensors.torch.load_file(path))` works on the equivalent module.
public enum ModelFile {
    public static func tensors(of replica: Replica, network: Network, batchesTracked: Int) -> [SafetensorsTensor] {
        var result: [SafetensorsTensor] = []
        for slot in network.layout.slots {
            result.append(SafetensorsTensor(name: slot.name, dtype: "F32", shape: slot.shape,
                                            data: Safetensors.floats(replica.parameters.pointer + slot.offset, count: slot.count)))
        }
        var tracked = Int64(batchesTracked)
        for slot in network.stateLayout.slots {
            result.append(SafetensorsTensor(name: slot.name, dtype: "F32", shape: slot.shape,
                                            data: Safetensors.floats(replica.state.pointer + slot.offset, count: slot.count)))
            if slot.role == .runningVariance, slot.name.hasSuffix(".running_var") {
                let prefix = String(slot.name.dropLast(".running_var".count))
                result.append(SafetensorsTensor(name: prefix + ".num_batches_tracked", dtype: "I64", shape: [],
                                                data: Data(bytes: &tracked, count: 8)))
            }
        }
        return result
    }

    public static func write(_ replica: Replica, network: Network, batchesTracked: Int, to path: String,
                             metadata: [String: String] = [:]) throws {
        try Safetensors.write(tensors(of: replica, network: network, batchesTracked: batchesTracked),
                              metadata: metadata, to: path)
    }

    /// Loads weights (and BatchNorm statistics, if present) into `replica`; every parameter of
    /// the network must be in the file with its exact shape.
    public static func load(_ path: String, into replica: Replica, network: Network) throws {
        let file = try Safetensors.read(path: path).tensors
        func fill(_ slots: [ParameterSlot], _ buffer: FloatBuffer, required: Bool) throws {
            for slot in slots {
                guard let t = file[slot.name] else {
                    if required { throw FileError(path: path, description: "\(path) has no tensor '\(slot.name)' that the \(network.layout.count)-parameter model needs") }
                    continue
                }
                guard t.shape == slot.shape, t.dtype == "F32" else {
                    throw FileError(path: path, description: "\(path): tensor '\(slot.name)' is \(t.dtype) \(t.shape), the model needs F32 \(slot.shape)")
                }
                let values = try Safetensors.floatArray(t)
                values.withUnsafeBufferPointer { (buffer.pointer + slot.offset).update(from: $0.baseAddress!, count: slot.count) }
            }
        }
        try fill(network.layout.slots, replica.parameters, required: true)
        try fill(network.stateLayout.slots, replica.state, required: false)
        if let finding = FiniteCheck.check(replica, network: network, owner: "") {
            throw FileError(path: path, description: "\(path): \(finding); a model to start from must be finite")
        }
    }
}
