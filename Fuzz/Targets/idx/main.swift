// IDX image and label files, plain or gzip (the reader detects the gzip magic 1f 8b).
@testable import Data
import FuzzSupport

let path = scratchFile("input-idx")
fuzz { bytes in
    put(bytes, at: path)
    _ = try? IDXReader.readArray(path, magic: IDXReader.imagesMagic, kind: "image")
    if let (labels, _) = try? IDXReader.readArray(path, magic: IDXReader.labelsMagic, kind: "label") {
        _ = try? IDXReader.checkedLabels(labels, classes: 10, path: path)
    }
}
