/// Where an update kernel of `Optimizer` reads gradient element `i` from: the gradient buffer
/// divided by the step's divisor (exactly as a separate pass would), then clipped.
protocol GradientSource {
    subscript(i: Int) -> Float { get }
}

/// grad[i]·factor (factor 1 or an exact reciprocal).
struct ScaledGradient: GradientSource {
    let values: UnsafePointer<Float>
    let factor: Float
    init(values: UnsafeMutablePointer<Float>, factor: Float) {
        self.values = UnsafePointer(values)
        self.factor = factor
    }
    @inline(__always) subscript(i: Int) -> Float { values[i] * factor }
}

/// grad[i] / divisor, correctly rounded.
struct DividedGradient: GradientSource {
    let values: UnsafePointer<Float>
    let divisor: Float
    init(values: UnsafeMutablePointer<Float>, divisor: Float) {
        self.values = UnsafePointer(values)
        self.divisor = divisor
    }
    @inline(__always) subscript(i: Int) -> Float { values[i] / divisor }
}

/// base[i]·factor: the clipped gradient (factor c / (‖g‖ + 10⁻⁶) < 1, `Optimizer.clipFactor`),
/// rounded as PyTorch's in-place `grad.mul_(clip_coef)` after the division.
struct ClippedGradient<Base: GradientSource>: GradientSource {
    let base: Base
    let factor: Float
    @inline(__always) subscript(i: Int) -> Float { base[i] * factor }
}
