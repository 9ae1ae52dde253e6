// Run config files in YAML: parsed within ConfigLimits, then laid over the defaults and range-checked.
import Foundation
import FuzzSupport
import Config

let path = scratchFile("input.yaml")
fuzz { bytes in
    put(bytes, at: path)
    _ = try? ConfigLoader.load(path)
}
