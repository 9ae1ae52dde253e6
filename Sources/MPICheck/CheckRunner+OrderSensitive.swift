/// Checks on values whose sum depends on the order of its additions, so that "bitwise equal to
/// the in-process backend" says the order is the in-process one, not only that rounding was kind.
extension CheckRunner {
    /// The largest magnitude of `orderSensitive` values, which scales the `fast` tolerances.
    static let orderSensitiveMagnitude: Float = 2e8

    /// Large numbers that cancel and small ones that vanish next to them (1e8 + 1 = 1e8 in
    /// `Float`): e.g. ((1e8 + 1) − 1e8) + 1 = 1 but (1e8 + 1) + (−1e8 + 1) = 0. The same for every
    /// check (the salt is ignored), so `checkOrderSensitive` can show that the data tells orders apart.
    static func orderSensitive(worker w: Int, index i: Int, salt _: Int) -> Float {
        let scale = 1 + Float(i & 3) / 4  // 1, 1.25, 1.5 or 1.75: exact, and varies the roundings
        return pattern[(w &* 5 &+ i) & 7] * scale
    }

    private static let pattern: [Float] = [1e8, 1, -1e8, 3, 0.75, -3e7, 2.5e7, -1]

    /// Mean and sum over groups of `g` on order-sensitive values, and (for g ≥ 3; two addends
    /// have one order) evidence that these values tell the in-process order from another.
    func checkOrderSensitive(groupSize g: Int) throws {
        let magnitude = Self.orderSensitiveMagnitude
        try check("mean G=\(g), order-sensitive values", groupSize: g, tolerance: tolerance(g, mean: true) * magnitude,
                  values: Self.orderSensitive) {
            try $0.allReduceMean($1, count: self.count, groupSize: g)
        }
        try check("sum G=\(g), order-sensitive values", groupSize: g, tolerance: tolerance(g, mean: false) * magnitude,
                  values: Self.orderSensitive) {
            try $0.allReduceSum($1, count: self.count, groupSize: g)
        }
        guard g >= 3 else { return }
        var changed = 0, i = 0
        while i < count {  // plain loops: the tests run this tool from a debug build
            var leftToRight = Self.orderSensitive(worker: 0, index: i, salt: 0)
            var rightToLeft = Self.orderSensitive(worker: g - 1, index: i, salt: 0)
            var w = 1
            while w < g {
                leftToRight += Self.orderSensitive(worker: w, index: i, salt: 0)
                rightToLeft += Self.orderSensitive(worker: g - 1 - w, index: i, salt: 0)
                w += 1
            }
            if leftToRight != rightToLeft { changed += 1 }
            i += 1
        }
        report("order-sensitive values G=\(g): \(changed) of \(count) sums change when added right to left",
               difference: changed > 0 ? 0 : 1, tolerance: 0)
    }
}
