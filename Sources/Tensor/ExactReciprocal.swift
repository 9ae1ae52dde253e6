extension Float {
    /// 1/self when multiplying by it is exactly dividing by self: self is ± a power of two whose
    /// reciprocal is normal, so x·(1/self) and x/self are the same correctly rounded value for
    /// every Float x (subnormal results included), and a sum of values each scaled by it equals,
    /// bitwise, the scaled sum barring results below the normal range. Otherwise nil.
    ///
    /// The one place of the power-of-two rule: the optimizer's fused gradient mean, the
    /// reduction kernels' mean and the trainer's prescaled weight averaging all ask here.
    @inlinable
    public var exactReciprocal: Float? {
        significandBitPattern == 0 && isNormal && (1 / self).isNormal ? 1 / self : nil
    }
}
