import Foundation
import Tensor

/// Relative compute speeds of the K workers of a simulated run (`--worker-speeds`), for the
/// modelled wall-clock only: a worker of speed v takes c/v modelled seconds for an iteration
/// whose compute was measured at c seconds. Training itself is unchanged.
///
/// Written as text: K comma-separated speeds (`1,1,1,0.5`, each greater than 0 and at most
/// 1000; at least 0.001), or `lognormal:σ` (σ greater than 0, at most 3): worker k's speed is exp(σ·z_k), z_0,
/// z_1, … standard normal draws in worker order from the run seed's own stream
/// (`RandomGenerator(seed:, stream: [Stream.workerSpeeds])`, Box–Muller), drawn once; the speeds are not
/// rescaled (their median is 1).
public struct WorkerSpeeds: Equatable, Sendable {
    /// One speed per worker, in worker order.
    public let speeds: [Double]

    /// Parses `text` for K = `workers` workers and the run's `seed`. Throws `ConfigError` naming
    /// `--worker-speeds` for a list of the wrong length, a speed outside [0.001, 1000], or a σ
    /// outside (0, 3].
    public init(parsing text: String, workers: Int, seed: UInt64) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("lognormal:") {
            let sigmaText = trimmed.dropFirst("lognormal:".count)
            guard let sigma = Double(sigmaText), sigma > 0, sigma <= 3 else {
                throw ConfigError("--worker-speeds: lognormal:\(sigmaText) needs a σ greater than 0 and at most 3, e.g. lognormal:0.3")
            }
            var rng = RandomGenerator(seed: seed, stream: [Stream.workerSpeeds])
            speeds = (0..<workers).map { _ in exp(sigma * Double(rng.nextNormal())) }
            return
        }
        let items = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard items.count == workers else {
            throw ConfigError("--worker-speeds has \(items.count) value\(items.count == 1 ? "" : "s") but there are \(workers) workers (--workers); give one speed per worker, e.g. 1,1,0.5, or lognormal:σ")
        }
        speeds = try items.map { item in
            guard let v = Double(item), v >= 0.001, v <= 1000 else {
                throw ConfigError("--worker-speeds: '\(item)' is not a speed; each must be a number from 0.001 to 1000 (relative to 1)")
            }
            return v
        }
    }

    /// Every worker at speed 1.
    public init(uniform workers: Int) { speeds = [Double](repeating: 1, count: workers) }
}
