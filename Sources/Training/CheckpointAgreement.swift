import Comm
import Config
import Foundation
import RunFiles

/// What the processes of a run decide together about checkpoints (issue "Never trap, never hang,
/// never save a broken model"). Every process writes the files of the workers it holds, and a
/// process can die between two checkpoints, so a checkpoint is complete only once every process
/// has written its files. The processes therefore
/// - confirm their writes to each other, with the files' sizes and checksums, before rank 0
///   writes the manifest and deletes an older checkpoint (`gatherEntries`, `confirm`);
/// - resume from a step all of them can read whole, trying the steps of rank 0's listing newest
///   first and agreeing on each (`agreedSteps`, `gatherProblems`);
/// - check before training that they start at the same step with the same settings
///   (`checkSameStart`), so no collective can pair different steps.
/// All of these are collectives: every process calls them at the same point, and every process
/// then goes on or throws alike, so a failure on one rank never leaves the others waiting.
package enum CheckpointAgreement {
    /// Every process's `values`, which may differ in length (padded for `gatherIntegers`).
    static func gatherVariable(_ values: [Int], _ comm: Communicator) throws -> [[Int]] {
        guard comm.processCount > 1 else { return [values] }
        let lengths = try comm.gatherIntegers([values.count]).map { $0[0] }
        let longest = lengths.max() ?? 0
        let all = try comm.gatherIntegers(values + Array(repeating: 0, count: longest - values.count))
        return zip(all, lengths).map { Array($0.prefix($1)) }
    }

    /// The steps of rank 0's `steps` (rank 0's listing of the checkpoint directory decides, so
    /// every process tries the same steps in the same order).
    static func agreedSteps(_ steps: [Int], _ comm: Communicator) throws -> [Int] {
        try gatherVariable(steps, comm)[0]
    }

    /// Every process's problem with the step being resumed (nil: none), in process order.
    static func gatherProblems(_ problem: String?, _ comm: Communicator) throws -> [String?] {
        let bytes = problem.map { [1] + Array($0.utf8.prefix(2000)).map(Int.init) } ?? [0]
        return try gatherVariable(bytes, comm).map { values in
            values.first == 1 ? String(decoding: values.dropFirst().map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self) : nil
        }
    }

    /// The steps every process holds, and each process's own list (in process order): for the
    /// legacy per-process files, which each process finds on its own.
    static func commonSteps(_ held: [Int], _ comm: Communicator) throws -> (common: Set<Int>, perProcess: [[Int]]) {
        let all = try gatherVariable(held, comm)
        let common = all.dropFirst().reduce(Set(all.first ?? [])) { $0.intersection($1) }
        return (common, all)
    }

    /// Every process's manifest entries (shared file first, then worker files in worker
    /// order), once every process succeeded at `what`; otherwise throws on every process as
    /// `confirm` does.
    static func gatherEntries(_ entries: [CheckpointManifest.Entry], failure: Error?, _ comm: Communicator,
                              what: String) throws -> [CheckpointManifest.Entry] {
        guard comm.processCount > 1 else {
            if let failure { throw failure }
            return entries.sorted(by: fileOrder)
        }
        var values = [failure == nil ? 1 : 0]
        for e in entries {
            guard let crc = UInt32(e.crc32, radix: 16) else { continue }
            values += [CheckpointFiles.worker(ofFile: e.name) ?? -1, e.bytes, Int(crc)]
        }
        let all = try gatherVariable(values, comm)
        try confirmed(failure, outcomes: all.map { $0[0] }, what: what)
        return all.flatMap { v in
            stride(from: 1, to: v.count - 2, by: 3).map { i in
                CheckpointManifest.Entry(name: v[i] < 0 ? CheckpointFiles.sharedFile : CheckpointFiles.workerFile(v[i]), bytes: v[i + 1],
                                         crc32: String(format: "%08x", UInt32(truncatingIfNeeded: v[i + 2])))
            }
        }.sorted(by: fileOrder)
    }

    /// The shared file, then the worker files by worker.
    private static func fileOrder(_ a: CheckpointManifest.Entry, _ b: CheckpointManifest.Entry) -> Bool {
        (CheckpointFiles.worker(ofFile: a.name) ?? -1) < (CheckpointFiles.worker(ofFile: b.name) ?? -1)
    }

    /// Throws on every process unless every process succeeded at `what` (nil `failure`): a
    /// process that failed throws its own error, the others a sentence naming the ranks.
    static func confirm(_ failure: Error?, _ comm: Communicator, what: String) throws {
        try confirmed(failure, outcomes: try comm.gatherIntegers([failure == nil ? 1 : 0]).map { $0[0] }, what: what)
    }

    /// Throws `failure`, or a sentence naming the processes whose `outcomes` are 0 (failed).
    private static func confirmed(_ failure: Error?, outcomes: [Int], what: String) throws {
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
            throw TrainingError("MPI rank \(other) would start at step \(b[0]) but rank 0 at step \(a[0]); they loaded different checkpoints, so the ranks cannot train together (every rank must read the same checkpoint directory: one host, or a file system all hosts share)")
        }
        let what = a[1] != b[1] ? "a model of \(b[1]) parameters against rank 0's \(a[1])" : "settings that change the run"
        throw TrainingError("MPI rank \(other) was started with other settings or another model than rank 0 (\(what)); start every rank with the same flags and config file")
    }
}

extension CheckpointAgreement {
    /// A warning naming every process's kernels when they differ (`kernels`: this process's,
    /// e.g. "arithmetic version 4, OpenBLAS Cooperlake, oneDNN on AVX512_CORE, Winograd at
    /// stride 1"), nil when all agree. Hosts with other CPUs pick other kernel families, and
    /// localsgd builds of other arithmetic versions compute some models differently: such a run
    /// is deterministic, but perhaps not bitwise the in-process run of the same settings. A
    /// collective, as `checkSameStart`.
    package static func kernelWarning(_ kernels: String, _ comm: Communicator) throws -> String? {
        guard comm.processCount > 1 else { return nil }
        let all = try gatherVariable(Array(kernels.utf8.prefix(200)).map(Int.init), comm)
            .map { String(decoding: $0.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self) }
        guard Set(all).count > 1 else { return nil }
        let ranks = all.enumerated().map { "rank \($0.offset): \($0.element)" }.joined(separator: "; ")
        return "the MPI ranks run different kernels (\(ranks)), which may round some sums differently: the run is deterministic, but perhaps not bitwise the in-process run of these settings (run one localsgd version on every host, and set OPENBLAS_CORETYPE and DNNL_MAX_CPU_ISA alike there, e.g. with mpirun -x)"
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
