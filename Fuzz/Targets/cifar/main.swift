// CIFAR-10 and CIFAR-100 binary record files, plain or gzip.
@testable import Data
import FuzzSupport

let path = scratchFile("input-cifar.bin")
fuzz { bytes in
    put(bytes, at: path)
    _ = try? CIFARReader.read([path], layout: CIFARReader.layout(.cifar10))
    _ = try? CIFARReader.read([path], layout: CIFARReader.layout(.cifar100))
}
