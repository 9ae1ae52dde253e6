import Foundation

extension LaunchEvent {
    /// The event as one console line, e.g. "launch: failure after step 57: rank 1 was killed by
    /// signal 9 (localhost)".
    public var line: String {
        let placed = ranks.map { "\($0) rank\($0 == 1 ? "" : "s")" + (hosts.map { " (\($0))" } ?? "") } ?? ""
        switch kind {
        case .start:
            return "launch: start on \(placed)" + (resume == true ? ", resuming from the newest checkpoint" : "")
        case .failure:
            let after = lastStep.map { " after step \($0)" } ?? " before its first step"
            return "launch: failure\(after): \(cause ?? "?")" + (host.map { " (\($0))" } ?? "")
        case .probe:
            return "launch: probe \(host ?? "?"): " + (usable == true ? "usable" : "NOT usable") + String(format: " (%.1f s)", seconds ?? 0)
        case .restart:
            let from = resume == true ? " from " + (checkpointStep.map { "checkpoint step \($0)" } ?? "the newest checkpoint") : " from step 0 (no checkpoint yet)"
            return "launch: restart on \(placed)\(from)"
        case .resumed:
            return "launch: training again from step \(checkpointStep ?? 0)"
                + String(format: ", %.1f s after the failure", secondsToTraining ?? 0) + "; \(stepsRedone ?? 0) steps redone"
        case .finished, .gaveUp, .interrupted:
            let verb = kind == .finished ? "finished" : kind == .gaveUp ? "gave up: \(message ?? "")" : "interrupted by signal \(signal ?? 0)"
            return "launch: \(verb)\n" + totals
        }
    }

    /// "launch: 2 restarts, 1m05s in all, 4.1 s lost, 14 steps redone".
    public var totals: String {
        let r = restarts ?? 0
        return "launch: \(r) restart\(r == 1 ? "" : "s"), " + String(format: "%.1f s in all, %.1f s lost, ", seconds ?? 0, secondsLost ?? 0)
            + "\(stepsRedone ?? 0) step\(stepsRedone == 1 ? "" : "s") redone"
    }
}
