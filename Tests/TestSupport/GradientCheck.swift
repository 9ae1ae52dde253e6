import NN
import Tensor
import XCTest

/// A layer registered on its own, with random parameters, for gradient checks.
public final class LayerHarness {
    public let layer: Layer
    public let layout: ParameterLayout
    public let replica: Replica

    public init(_ layer: Layer, seed: UInt64 = 1, parameterScale: Float = 0.5) {
        self.layer = layer
        var parameters = ParameterLayout(), state = ParameterLayout()
        layer.register(prefix: "", parameters: &parameters, state: &state)
        layout = parameters
        replica = Replica(parameterCount: parameters.count, stateCount: state.count)
        var rng = RandomGenerator(seed: seed)
        // BatchNorm scales near 1 keep normalised outputs spread out, so few sit within epsilon
        // of a following ReLU's kink (where a difference quotient is meaningless).
        for slot in parameters.slots {
            let offset: Float = slot.role == .normScale ? 1 : 0.1
            for i in slot.range { replica.parameters[i] = parameterScale * rng.nextNormal() + offset }
        }
        var stateRng = rng
        state.initialize(replica.state.pointer, rng: &stateRng)
    }
}

public func randomTensor(_ shape: Shape, seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor(shape, values: (0..<shape.count).map { _ in scale * rng.nextNormal() })
}

/// Checks a layer's parameter and input gradients against central finite differences of the
/// scalar L = Σ y·r for a fixed random r, every pass with the same context (`.testing(training)`
/// unless given). Float32 throughout, so the tolerance is
/// |analytic − numeric| ≤ absolute + relative·|numeric|. `values` replaces the random input
/// (token ids for an embedding, whose input has no gradient).
public func checkLayerGradients(
    _ layer: Layer, input shape: Shape, training: Bool = true, context: StepContext? = nil, epsilon: Float = 1e-2,
    relative: Float = 2e-2, absolute: Float = 2e-3, seed: UInt64 = 7, distinctInput: Bool = false,
    values: Tensor? = nil, file: StaticString = #filePath, line: UInt = #line
) {
    let harness = LayerHarness(layer, seed: seed)
    // Piecewise-linear layers (max-pool, ReLU) need inputs whose values are far apart compared
    // with epsilon, or a difference quotient straddles a kink: use a shuffled ramp then.
    var rampRng = RandomGenerator(seed: seed + 1)
    let x = values ?? (distinctInput
        ? Tensor(shape, values: rampRng.permutation(shape.count).map { Float($0 - shape.count / 2) * 0.05 + 0.025 })
        : randomTensor(shape, seed: seed + 1))
    let r = harness.replica.view
    let context = context ?? .testing(training)
    let y0 = layer.forward(x, r, context)
    let projection = randomTensor(y0.shape, seed: seed + 2)
    func loss() -> Float {
        let y = layer.forward(x, r, context)
        return Vector.dot(y.pointer, projection.pointer, count: y.count)
    }
    harness.replica.gradients.zero()
    _ = layer.forward(x, r, context)
    let dx = layer.backward(projection, r, context)
    let analyticInput = dx.array
    let analyticParameters = harness.replica.gradients.array

    var numericParameters = [Float](repeating: 0, count: harness.layout.count)
    for i in 0..<harness.layout.count {
        let saved = r.parameters[i]
        r.parameters[i] = saved + epsilon; let plus = loss()
        r.parameters[i] = saved - epsilon; let minus = loss()
        r.parameters[i] = saved
        numericParameters[i] = (plus - minus) / (2 * epsilon)
    }
    assertClose(analyticParameters, numericParameters, relative: relative, absolute: absolute,
                "parameter gradient", file: file, line: line)
    guard layer.needsInputGradient else { return }
    var numericInput = [Float](repeating: 0, count: x.count)
    for i in 0..<x.count {
        let saved = x[i]
        x[i] = saved + epsilon; let plus = loss()
        x[i] = saved - epsilon; let minus = loss()
        x[i] = saved
        numericInput[i] = (plus - minus) / (2 * epsilon)
    }
    assertClose(analyticInput, numericInput, relative: relative, absolute: absolute,
                "input gradient", file: file, line: line)
}

extension StepContext {
    /// A context for layers run on their own: training (or evaluation), step 0 of seed 0, on a
    /// fresh workspace of `threads` lanes (Conv2d needs its scratch).
    public static func testing(_ training: Bool = true, threads: Int = 1) -> StepContext {
        StepContext(mode: training ? .training : .evaluation, workspace: Workspace(threads: threads))
    }
}
