import ArgumentParser
import Experiments
import Foundation

/// `localsgd sample RUN`: text from a language model trained with `--dataset text`.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate text from a language model trained on --dataset text, so a person can read what it learned.",
        discussion: """
        Reads RUN/config.json (the model), RUN/vocabulary.json (the characters and the context length) \
        and RUN/final.safetensors (or --weights), then draws --tokens characters one at a time from the \
        model's softmax at --temperature, among the --top-k most likely if given. The same --seed gives \
        the same text.
        """)

    @Argument(help: ArgumentHelp("A run directory of `localsgd train --dataset text`.", valueName: "run")) var runDirectory: String
    @Option(parsing: .unconditional, help: "Characters to generate, 1 to 100000.") var tokens = 200
    @Option(help: "Text the generation continues (its characters must be in the model's vocabulary).") var prompt = ""
    @Option(parsing: .unconditional, help: "Softmax temperature, 0 (always the most likely) to 100.") var temperature: Float = 0.8
    @Option(parsing: .unconditional, help: "Draw only among the K most likely characters (1 to the vocabulary size).") var topK: Int?
    @Option(parsing: .unconditional, help: "Seed of the draws, 0 to 2^64−1.") var seed: UInt64 = 1
    @Option(help: "A model file with the run's tensors to use instead of RUN/final.safetensors (as --init takes; checkpoints are not model files).") var weights: String?

    func validate() throws {
        guard (1...100_000).contains(tokens) else { throw ValidationError("--tokens must be 1 to 100000, got \(tokens)") }
        guard temperature.isFinite, (0...100).contains(temperature) else {
            throw ValidationError("--temperature must be 0 to 100, got \(temperature)")
        }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1, got \(topK)") }
    }

    func run() throws {
        do {
            try reportingErrors {
                let sampler = try TextSampler(runDirectory: runDirectory, weights: weights)
                let ids = try sampler.encode(prompt)
                if let topK, topK > sampler.vocabulary.tokens.count {
                    throw ValidationError("--top-k must be at most the vocabulary size \(sampler.vocabulary.tokens.count), got \(topK)")
                }
                let generated = sampler.generate(prompt: ids, count: tokens, temperature: temperature, topK: topK, seed: seed)
                print(prompt + sampler.decode(generated))
            }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }
}
