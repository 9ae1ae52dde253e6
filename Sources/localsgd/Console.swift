import Foundation
import Training

/// Terminal output of the CLI (the library never prints).
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("localsgd: error: \(message)\n".utf8))
    }

    static func status(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }

    static func percent(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }

    /// " (1.234 bits/char)" after a text run's test loss, with the unigram baseline when given;
    /// empty for image runs.
    static func bitsPerChar(_ bits: Double?, baseline: Double? = nil) -> String {
        guard let bits else { return "" }
        let unigram = baseline.map { String(format: ", unigram %.3f", $0) } ?? ""
        return String(format: " (%.3f bits/char%@)", bits, unigram)
    }

    /// "epoch 1/2  step 40/128  loss 1.2345  lr 0.1  900 samples/s  ETA 12s".
    static func progressLine(_ p: TrainingProgress) -> String {
        String(format: "epoch %ld/%ld  step %ld/%ld  loss %.4f  lr %.4g  %.0f samples/s  ETA %@",
               p.epoch, p.epochs, p.step, p.stepsPerEpoch, p.loss, p.learningRate, p.samplesPerSecond, duration(p.etaSeconds))
    }

    /// Prints training events: progress lines on stderr, one line per epoch on stdout. With
    /// `progressJSON`, progress goes to stderr as `TrainingProgress.jsonLine` instead.
    static func printer(quiet: Bool, progressJSON: Bool = false) -> (TrainingEvent) -> Void {
        return { event in
            switch event {
            case .started(let parameters, let stepsPerEpoch, let peak):
                if !quiet { status("model: \(parameters) parameters; \(stepsPerEpoch) steps per epoch; peak learning rate \(peak)") }
            case .progress(let p) where progressJSON:
                status(p.jsonLine)
            case .progress(let p):
                if !quiet { status(progressLine(p)) }
            case .epochFinished(let m):
                print(String(format: "epoch %ld: train loss %.4f acc %@ | test loss %.4f%@ acc %@ | lr %.4g | syncs %ld | %.1f s",
                             m.epoch, m.trainLoss, percent(m.trainAccuracy), m.testLoss, bitsPerChar(m.testBitsPerChar),
                             percent(m.testAccuracy), m.lr, m.syncs, m.seconds))
                fflush(stdout)
            case .warning(let text):
                status("warning: " + text)
            case .finished(let summary, let directory):
                print(String(format: "final: test accuracy %@, test loss %.4f%@, %ld steps, %.0f samples/s, %.1f s",
                             percent(summary.testAccuracy), summary.testLoss,
                             bitsPerChar(summary.testBitsPerChar, baseline: summary.unigramBitsPerChar), summary.steps,
                             summary.samplesPerSecond, summary.seconds) + (directory.map { " -> \($0)" } ?? ""))
                fflush(stdout)
            }
        }
    }
}

/// Runs `body`, turning any thrown error into one sentence on stderr and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ExitCodeError {
        throw e
    } catch {
        Console.error("\(error)")
        throw ExitCodeError.failure
    }
}

enum ExitCodeError: Error { case failure }
