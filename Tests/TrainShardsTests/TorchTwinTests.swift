import Foundation
import XCTest
@testable import Network
@testable import ShardData
@testable import TrainShards
import SynmixCore
import TestSupport
import SynmixFormats

/// python/synmix_torch, the PyTorch twin of the trainer, against the Swift one: DDP training from the
/// same shards, checkpoints either side reads, the same outputs and the same targets.
final class TorchTwinTests: XCTestCase {
    var trainer: String { "\(repositoryRoot)/.build/release/train-shards" }
    var classes: [String] { ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"] }

    /// The interop interpreter, with python/ on its path (the package needs no install to be tested).
    func python(_ arguments: [String], program: String? = nil) throws -> (status: Int32, output: String, errors: String) {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let executable = program.map { URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent($0).path } ?? python
        return try runProgramCapturingErrors("/usr/bin/env", ["PYTHONPATH=\(repositoryRoot)/python", "OMP_NUM_THREADS=1", executable] + arguments)
    }

    func testTorchrunTrainsOnTwoRanksAndTrainShardsScoresTheCheckpoint() throws {
        let out = try temporaryFolder()
        let run = try python(["--nproc_per_node", "2", "--master_port", String(29_500 + Int.random(in: 1...400)),
                              "-m", "synmix_torch.train", "--train", "\(fixtureShards)/mix-*.tar", "--out", out, "--steps", "4",
                              "--batch", "2", "--input-size", "128x64", "--width", "8", "--workers", "1", "--log-every", "2"],
                             program: "torchrun")
        XCTAssertEqual(run.status, 0, run.errors)
        XCTAssertTrue(run.output.contains("4 steps of 2 × 2 process(es) at 128x64 on cpu"), run.output)
        // metrics.json in synmix's format, read by its owner type.
        let metrics = try TrainingMetrics.read(folder: out)
        XCTAssertEqual(metrics.steps.map(\.step), [1, 2, 3, 4])
        XCTAssertEqual(metrics.training["processes"]?.intValue, 2)
        // The checkpoint is synmix's: train-shards evaluates and predicts with it at its recorded input size.
        let evaluate = try runProgramCapturingErrors(trainer, ["evaluate", "--model", "\(out)/model.safetensors",
                                                               "--shards", "\(fixtureShards)/mix-*.tar"])
        XCTAssertEqual(evaluate.status, 0, evaluate.errors)
        XCTAssertTrue(evaluate.output.contains("evaluated 6 images at 256x128, network input 128x64"), evaluate.output)
        let predict = try runProgramCapturingErrors(trainer, ["predict", "--model", "\(out)/model.safetensors",
                                                              "--shards", "\(fixtureShards)/mix-*.tar", "--out", "\(out)/predictions"])
        XCTAssertEqual(predict.status, 0, predict.errors)
        // It initialises a Swift run, and a Swift checkpoint initialises a PyTorch run.
        let swiftRun = try temporaryFolder()
        let initialised = try runProgramCapturingErrors(trainer, ["fit", "--train", "\(fixtureShards)/mix-*.tar", "--out", swiftRun,
                                                                  "--steps", "1", "--batch", "2", "--input-size", "128x64", "--width", "8",
                                                                  "--init", "\(out)/model.safetensors"])
        XCTAssertEqual(initialised.status, 0, initialised.errors)
        XCTAssertTrue(initialised.output.contains("initialised from \(out)/model.safetensors"), initialised.output)
        let back = try python(["-m", "synmix_torch.train", "--train", "\(fixtureShards)/mix-*.tar", "--out", try temporaryFolder(),
                               "--steps", "1", "--batch", "2", "--input-size", "128x64", "--width", "8", "--workers", "0",
                               "--init", "\(swiftRun)/model.safetensors"])
        XCTAssertEqual(back.status, 0, back.errors)
        XCTAssertTrue(back.output.contains("initialised from \(swiftRun)/model.safetensors"), back.output)
        // A used --out is refused without --resume, as fit refuses it; with --resume the run continues.
        let again = try python(["-m", "synmix_torch.train", "--train", "\(fixtureShards)/mix-*.tar", "--out", out, "--steps", "6",
                                "--batch", "2", "--input-size", "128x64", "--width", "8", "--workers", "0"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.errors.contains("holds an earlier run"), again.errors)
        let resumed = try python(["-m", "synmix_torch.train", "--train", "\(fixtureShards)/mix-*.tar", "--out", out, "--steps", "6",
                                  "--batch", "2", "--input-size", "128x64", "--width", "8", "--workers", "0", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.errors)
        XCTAssertTrue(resumed.output.contains("resumed from \(out)/checkpoints/step-000004.safetensors at step 4"), resumed.output)
        XCTAssertEqual(try TrainingMetrics.read(folder: out).steps.map(\.step), [1, 2, 3, 4, 5, 6])
    }

    func testTheRanksReadDisjointSamplesThatCoverTheShards() throws {
        let shards = Files.list(fixtureShards).filter { $0.hasSuffix(".tar") }.sorted().map { "\(fixtureShards)/\($0)" }
        var all: [String] = []
        try ShardStream(shards: shards, bufferSize: 1, seed: 0, shuffle: false).forEach(epoch: 0) { all.append($0.key); return true }
        for epoch in [0, 1] {
            let (status, output, errors) = try python(["\(repositoryRoot)/Tests/interop/torch_twin_check.py", "keys", "1", String(epoch), "2", "1"] + shards)
            XCTAssertEqual(status, 0, errors)
            let ranks = try JSON.parse(Array(output.utf8))
            let first = try XCTUnwrap(ranks["0"]?.arrayValue?.compactMap(\.stringValue))
            let second = try XCTUnwrap(ranks["1"]?.arrayValue?.compactMap(\.stringValue))
            XCTAssertFalse(first.isEmpty || second.isEmpty)
            XCTAssertTrue(Set(first).isDisjoint(with: second), "epoch \(epoch)")
            XCTAssertEqual((first + second).sorted(), all.sorted(), "epoch \(epoch)")
        }
        // Fewer shards than ranks × workers is an error, not a rank that waits forever.
        let (_, output, _) = try python(["\(repositoryRoot)/Tests/interop/torch_twin_check.py", "keys", "1", "0", "2", "2"] + shards)
        XCTAssertEqual(try JSON.parse(Array(output.utf8))["error"]?.stringValue?.hasPrefix("2 shard(s) for 2 rank(s) × 2 worker(s)"), true, output)
    }

    func testPyTorchAndSwiftGiveTheSameOutputsOnTheSameCheckpointEitherWay() throws {
        let folder = try temporaryFolder()
        // Swift's checkpoint and outputs, read by PyTorch.
        let model = Model(config: ModelConfig(width: 8, classes: classes), seed: 5)
        // Running statistics that are not the defaults, so that eval-mode batch norm is exercised.
        for slot in model.bufferSlots {
            for i in slot.offset..<slot.offset + slot.count {
                model.buffers[i] = slot.name.hasSuffix("running_var") ? 0.5 + 0.1 * Float(i % 9) : 0.05 * Float(i % 7) - 0.15
            }
        }
        try Checkpoint.save(model, to: "\(folder)/swift.safetensors", input: Checkpoint.Input(width: 64, height: 32))
        let (input, heads) = forward(model, seed: 9)
        try Files.writeAtomically(Safetensors.serialize(["input": .init(input, shape: [2, 3, 32, 64]),
                                                         "heads": .init(heads, shape: [2, model.config.headChannels, 8, 16])]),
                                  to: "\(folder)/swift-io.safetensors")
        let check = "\(repositoryRoot)/Tests/interop/torch_twin_check.py"
        var result = try python([check, "forward", "\(folder)/swift.safetensors", "\(folder)/swift-io.safetensors"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertLessThan(try XCTUnwrap(try JSON.parse(Array(result.output.utf8))["max_difference"]?.doubleValue), 1e-4)

        // A checkpoint PyTorch wrote, and its outputs, read by Swift.
        result = try python(["-m", "synmix_torch.train", "--train", "\(fixtureShards)/mix-*.tar", "--out", "\(folder)/torch",
                             "--steps", "2", "--batch", "2", "--input-size", "64x32", "--width", "8", "--workers", "0"])
        XCTAssertEqual(result.status, 0, result.errors)
        result = try python([check, "export", "\(folder)/torch/model.safetensors", "\(folder)/torch-io.safetensors", "64", "32"])
        XCTAssertEqual(result.status, 0, result.errors)
        let (loaded, recorded) = try Checkpoint.model(at: "\(folder)/torch/model.safetensors")
        XCTAssertEqual(recorded, Checkpoint.Input(width: 64, height: 32))
        let io = try Safetensors.parse(try Files.read("\(folder)/torch-io.safetensors")).tensors
        let workspace = Workspace(model: loaded, batch: 2, height: 32, width: 64)
        let torchInput = try XCTUnwrap(io["input"]).floats
        workspace.input.update(from: torchInput, count: torchInput.count)
        workspace.forward(training: false)
        let ours = Array(UnsafeBufferPointer(start: workspace.heads, count: 2 * loaded.config.headChannels * 8 * 16))
        let theirs = try XCTUnwrap(io["heads"]).floats
        XCTAssertEqual(ours.count, theirs.count)
        XCTAssertLessThan(zip(ours, theirs).map { abs($0 - $1) }.max() ?? 1, 1e-4)
    }

    func testPyTorchAndSwiftGiveTheSameTargetsForTheSameSample() throws {
        let shards = Files.list(fixtureShards).filter { $0.hasSuffix(".tar") }.sorted().map { "\(fixtureShards)/\($0)" }
        var tensors: [String: Safetensors.Tensor] = [:]
        var unused = SplitMix64(seed: 0)
        try ShardStream(shards: shards, bufferSize: 1, seed: 0, shuffle: false).forEach(epoch: 0) { raw in
            let sample = try DecodedSample(raw)
            let prepared = Targets.prepare(sample, classes: classes, width: 128, height: 64, augmentation: nil, random: &unused)
            tensors["\(sample.key).image"] = .init(prepared.image, shape: [3, 64, 128])
            tensors["\(sample.key).semantic"] = .init(prepared.semantic.map(Int64.init), shape: [16, 32])
            tensors["\(sample.key).center"] = .init(prepared.center, shape: [16, 32])
            tensors["\(sample.key).offset"] = .init(prepared.offset, shape: [2, 16, 32])
            tensors["\(sample.key).weight"] = .init(prepared.offsetWeight, shape: [16, 32])
            return true
        }
        let folder = try temporaryFolder()
        try Files.writeAtomically(Safetensors.serialize(tensors), to: "\(folder)/targets.safetensors")
        let (status, output, errors) = try python(["\(repositoryRoot)/Tests/interop/torch_twin_check.py", "targets", "128", "64",
                                                   "\(folder)/targets.safetensors"] + shards)
        XCTAssertEqual(status, 0, errors)
        let worst = try JSON.parse(Array(output.utf8))
        XCTAssertEqual(worst["samples"]?.intValue, 6)
        XCTAssertEqual(worst["semantic_mismatches"]?.intValue, 0)
        XCTAssertEqual(worst["weight"]?.doubleValue, 0)
        for name in ["image", "center", "offset"] {
            XCTAssertLessThanOrEqual(try XCTUnwrap(worst[name]?.doubleValue), 1e-5, name)
        }
    }

    /// A seeded input and the model's eval-mode heads for it (batch 2, 64×32).
    func forward(_ model: Model, seed: UInt64) -> (input: [Float], heads: [Float]) {
        var random = SplitMix64(seed: seed)
        let input = (0..<2 * 3 * 32 * 64).map { _ in Float(random.unit() * 4 - 2) }
        let workspace = Workspace(model: model, batch: 2, height: 32, width: 64)
        workspace.input.update(from: input, count: input.count)
        workspace.forward(training: false)
        return (input, Array(UnsafeBufferPointer(start: workspace.heads, count: 2 * model.config.headChannels * 8 * 16)))
    }
}
