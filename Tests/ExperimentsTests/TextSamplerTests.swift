import Config
import Foundation
import NN
import RunFiles
import Tensor
import TestSupport
import XCTest
@testable import Experiments

/// `localsgd sample`'s generator on a gpt-micro run directory written by hand: the same seed
/// gives the same text, temperature 0 follows the model's most likely character (checked against
/// a forward pass of its own), and what is wrong is named.
final class TextSamplerTests: XCTestCase {
    let tokens: [UInt8] = Array("\n abcdefghij".utf8)

    func makeRun() throws -> String {
        let dir = try makeTemporaryDirectory(self)
        var config = RunConfig()
        config.data.dataset = .text
        config.model.kind = .gptMicro
        try RunDirectory.encoder().encode(config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let vocabulary = #"{"context_length": 8, "encoding": "bytes", "tokens": [\#(tokens.map(String.init).joined(separator: ", "))]}"#
        try vocabulary.write(toFile: dir + "/vocabulary.json", atomically: true, encoding: .utf8)
        let net = try Network(ModelSpec(kind: .gptMicro, channels: 1, height: 1, width: 8, classes: tokens.count))
        let replica = Replica(for: net)
        net.initialize(replica, seed: 4)
        for i in 0..<net.layout.count { replica.parameters[i] *= 20 }  // sharper, so greedy picks differ by position
        try ModelFile.write(replica, network: net, batchesTracked: 0, to: dir + "/final.safetensors")
        return dir
    }

    func testSameSeedSameTextAndGreedyFollowsTheModel() throws {
        let dir = try makeRun()
        let sampler = try TextSampler(runDirectory: dir)
        let prompt = try sampler.encode("abc")
        XCTAssertEqual(prompt, [2, 3, 4])
        let a = sampler.generate(prompt: prompt, count: 20, temperature: 1, seed: 7)
        XCTAssertEqual(a.count, 20)
        XCTAssertEqual(sampler.generate(prompt: prompt, count: 20, temperature: 1, seed: 7), a)
        XCTAssertNotEqual(sampler.generate(prompt: prompt, count: 20, temperature: 1, seed: 8), a)
        // Greedy, by hand: the argmax of the logits at the last position of the latest 8 tokens.
        let greedy = sampler.generate(prompt: prompt, count: 12, temperature: 0)
        let net = try Network(ModelSpec(kind: .gptMicro, channels: 1, height: 1, width: 8, classes: tokens.count))
        let replica = Replica(for: net)
        try ModelFile.load(dir + "/final.safetensors", into: replica, network: net)
        var context = prompt
        for next in greedy {
            let window = Array(context.suffix(8))
            let input = Tensor(Shape(1, 1, 1, 8), values: window.map(Float.init) + [Float](repeating: 0, count: 8 - window.count))
            let logits = net.forward(input, replica.view, .evaluation)
            let column = window.count - 1
            let best = (0..<tokens.count).max { logits.pointer[$0 * 8 + column] < logits.pointer[$1 * 8 + column] }!
            XCTAssertEqual(next, best)
            context.append(next)
        }
        XCTAssertEqual(sampler.decode([2, 0, 1]), "a\n ")
        let topOne = sampler.generate(prompt: prompt, count: 12, temperature: 1, topK: 1, seed: 3)
        XCTAssertEqual(topOne, greedy, "top-1 is greedy")
    }

    func testErrorsNameWhatIsWrong() throws {
        let dir = try makeRun()
        let sampler = try TextSampler(runDirectory: dir)
        XCTAssertThrowsError(try sampler.encode("abz")) {
            XCTAssertEqual("\($0)", "the prompt's 'z' is not in the model's vocabulary of 12 characters")
        }
        XCTAssertThrowsError(try TextSampler(runDirectory: dir, weights: dir + "/none.safetensors")) {
            XCTAssertEqual("\($0)", "--weights \(dir)/none.safetensors does not exist")
        }
        try FileManager.default.removeItem(atPath: dir + "/final.safetensors")
        XCTAssertThrowsError(try TextSampler(runDirectory: dir)) { XCTAssertTrue("\($0)".contains("the run has not finished"), "\($0)") }
        var image = RunConfig()
        image.data.dataset = .synthetic
        image.model.kind = .mlp
        try RunDirectory.encoder().encode(image).write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertThrowsError(try TextSampler(runDirectory: dir)) {
            XCTAssertTrue("\($0)".contains("trained mlp on synthetic; sampling needs a language model trained on --dataset text"), "\($0)")
        }
        XCTAssertThrowsError(try TextSampler(runDirectory: dir + "/missing")) { XCTAssertTrue("\($0)".contains("holds no config.json")) }
    }
}
