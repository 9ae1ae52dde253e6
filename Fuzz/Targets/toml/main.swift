// Run config files in TOML: parsed within ConfigLimits, then laid over the defaults and range-checked.
import Foundation
import FuzzSupport
import Config

let path = scratchFile("input.toml")
fuzz { bytes in
    put(bytes, at: path)
    _ = try? ConfigLoader.load(path)
}
