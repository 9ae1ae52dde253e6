import NN
import Tensor

/// Finds the first NaN or infinity in model buffers before they are saved (checkpoints and
/// `final.safetensors`), so no file ever holds a diverged model. One pass over each buffer, run
/// only when a file is about to be written, never inside a training step.
public enum FiniteCheck {
    /// Where a non-finite value sits, in the file's terms: "worker 0's layer1.0.bn1.running_var holds inf".
    public struct Finding: CustomStringConvertible {
        var owner: String
        var tensor: String
        var value: Float
        public var description: String { "\(owner)\(tensor) holds \(value)" }
    }

    package static func firstIndex(_ pointer: UnsafePointer<Float>, count: Int) -> Int? {
        for i in 0..<count where !pointer[i].isFinite { return i }
        return nil
    }

    /// The first non-finite value of `buffer`, named by the slot of `layout` that holds it.
    package static func check(_ buffer: FloatBuffer, layout: [ParameterSlot], owner: String, suffix: String = "") -> Finding? {
        guard let i = firstIndex(buffer.pointer, count: buffer.count) else { return nil }
        let name = layout.first { $0.range.contains(i) }?.name ?? "value \(i)"
        return Finding(owner: owner, tensor: name + suffix, value: buffer.pointer[i])
    }

    /// A model's weights, then its BatchNorm statistics.
    package static func check(_ replica: Replica, network: Network, owner: String) -> Finding? {
        check(replica.parameters, layout: network.layout.slots, owner: owner)
            ?? check(replica.state, layout: network.stateLayout.slots, owner: owner)
    }

    /// A strategy's saved buffers (SlowMo's slow momentum and anchor, for instance).
    package static func check(_ buffers: [String: [Float]], owner: String) -> Finding? {
        for (name, values) in buffers.sorted(by: { $0.key < $1.key }) {
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                return Finding(owner: owner, tensor: name, value: values[i])
            }
        }
        return nil
    }
}
