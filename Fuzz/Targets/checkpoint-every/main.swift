// --checkpoint-every ("500", "1e", "2epochs"): the parser, the interval, and the field through a config.
import Foundation
import FuzzSupport
import Config
import RunFiles

fuzz { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    if let period = CheckpointPeriod(parsing: text) {
        for stepsPerEpoch in [1, 7, 60_000, 1 << 30] { _ = period.interval(stepsPerEpoch: stepsPerEpoch) }
    }
    _ = try? ConfigLoader.apply(["checkpoint_every": text], to: RunConfig(), source: ConfigLoader.commandLine)
}
