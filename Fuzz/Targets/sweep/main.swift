// Sweep files: the first byte picks TOML, YAML or JSON, the rest is the file; then every point's config.
import Experiments
import Foundation
import FuzzSupport
import Config

let paths = ["toml", "yaml", "json"].map { scratchFile("input-sweep." + $0) }
fuzz { bytes in
    guard let first = bytes.first else { return }
    let path = paths[Int(first) % paths.count]
    put(bytes.dropFirst(), at: path)
    _ = try? SweepSpec.load(path).expand(threads: 1)
}
