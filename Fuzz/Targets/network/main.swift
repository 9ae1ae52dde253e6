// The --network spec ("10gbit:50us", "1gbit:100us,nodes-of=8,intra=100gbit:2us") and its cost model.
import Comm
import Foundation
import FuzzSupport

fuzz { bytes in
    guard let model = try? NetworkModel(parsing: String(decoding: bytes, as: UTF8.self)) else { return }
    for (workers, group) in [(1, 1), (2, 2), (8, 4), (8, 8), (1024, 64), (1024, 1024)] {
        _ = model.allReduceSeconds(bytes: 1 << 20, workers: workers, groupSize: group)
    }
}
