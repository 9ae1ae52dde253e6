import Comm
import Config
import Foundation

/// What the processes of a run decide together about checkpoints (issue "Never trap, never hang,
/// never save a broken model"). Every rank writes its own checkpoint file, and a rank can die
/// between two of them, so the files of a step exist on every rank only once every rank has
/// written its own. The ranks therefore
/// - confirm every write to each other before any of them deletes an older checkpoint, so an
///   older step stays until every rank holds a newer complete one (`confirm`);
/// - resume from the newest step that every rank holds complete, found by exchanging the steps
///   each one holds (`newestCommonStep`), never from each rank's own newest file;
/// - check before training that they start at the same step with the same settings
///   (`checkSameStart`), so no collective can pair different steps.
/// All of these are collectives: every process calls them at the same point, and every process
/// then goes on or throws alike, so a failure on one rank never leaves the others waiting.
package enum CheckpointAgreement {
    /// The newest of the `held` steps that every process holds too, or nil if there is none.
    static func newestCommonStep(_ held: [Int], _ comm: Communicator) throws -> Int? {
        try commonSteps(held, comm).common.max()
    }

    /// The steps every process holds, and each process's own list (in process order).
    static func commonSteps(_ held: [Int], _ comm: Communicator) throws -> (common: Set<Int>, perProcess: [[Int]]) {
        let longest = try comm.gatherIntegers([held.count]).map { $0[0] }.max() ?? 0
        let padded = held + Array(repeating: -1, count: longest - held.count)
        let all = try comm.gatherIntegers(padded).map { $0.filter { $0 >= 0 } }
        let common = all.dropFirst().reduce(Set(all.first ?? [])) { $0.intersection($1) }
        return (common, all)
    }

    /// Throws on every process unless every process succeeded at `what` (nil `failure`): a
    /// process that failed throws its own error, the others a sentence naming the ranks.
    static func confirm(_ failure: Error?, _ comm: Communicator, what: String) throws {
        let outcomes = try comm.gatherIntegers([failure == nil ? 1 : 0]).map { $0[0] }
        if let failure { throw failure }
        let failed = outcomes.indices.filter { outcomes[$0] == 0 }
        guard failed.isEmpty else {
            let ranks = failed.map(String.init).joined(separator: ", ")
            throw TrainingError("\(what) failed on MPI rank \(ranks) (its error is above), so every rank stops here")
        }
    }

    /// Throws on every process unless all start training at the same step with the same
    /// settings and model, naming the first rank that differs from rank 0.
    package static func checkSameStart(_ t: TrainingLoop) throws {
        let mine = [t.globalStep, t.network.layout.count, t.config.fingerprint]
        let all = try t.communicator.gatherIntegers(mine)
        guard let other = all.indices.first(where: { all[$0] != all[0] }) else { return }
        let (a, b) = (all[0], all[other])
        if a[0] != b[0] {
            throw TrainingError("MPI rank \(other) would start at step \(b[0]) but rank 0 at step \(a[0]); their checkpoints differ, so the ranks cannot train together (resume with the run's ranks and checkpoint directory)")
        }
        let what = a[1] != b[1] ? "a model of \(b[1]) parameters against rank 0's \(a[1])" : "settings that change the run"
        throw TrainingError("MPI rank \(other) was started with other settings or another model than rank 0 (\(what)); start every rank with the same flags and config file")
    }
}

extension RunConfig {
    /// A hash of every setting that changes the collectives or their numbers (not the thread
    /// count, evaluation batch, collective timeout or local paths), equal on every machine:
    /// FNV-1a over the sorted-key JSON.
    var fingerprint: Int {
        var c = self
        c.execution.threads = 0
        c.execution.evalBatchSize = 0
        c.execution.collectiveTimeout = 0
        c.data.dataDir = nil
        c.execution.initWeights = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let bytes = (try? encoder.encode(c)) ?? Data()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: hash)
    }
}
