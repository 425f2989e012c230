import Foundation
import XCTest
import Evaluation
import Harmonize
import PackMix
@testable import ShardData
import SynmixCore
import TestSupport

/// The seed's detector (python/synmix_torch, PointRend on ResNet-18-FPN) trained from pack-mix's shards,
/// its Cityscapes-format predictions scored by `train-shards evaluate --predictions --shards`, and that
/// scoring checked against the official path on the same data.
final class DetectorTests: XCTestCase {
    var trainer: String { "\(repositoryRoot)/.build/release/train-shards" }

    /// The interop Python (or a program beside it) with python/ on its path; `threads` per process.
    func python(_ arguments: [String], program: String? = nil, threads: Int = 2) throws -> (status: Int32, output: String, errors: String) {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let executable = program.map { URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent($0).path } ?? python
        return try runProgramCapturingErrors("/usr/bin/env", ["PYTHONPATH=\(repositoryRoot)/python", "OMP_NUM_THREADS=\(threads)", executable] + arguments)
    }

    func evaluation(_ folder: String) throws -> JSON { try JSON.parse(try Files.read("\(folder)/metrics.json")) }

    /// The overfitting run: the 3 fixture frames of the first shard, no augmentation, short side 96.
    func trainArguments(out: String, steps: Int, shards: String = "\(fixtureShards)/mix-000000.tar") -> [String] {
        ["-m", "synmix_torch.train", "--model", "pointrend", "--backbone", "resnet18", "--train", shards,
         "--out", out, "--steps", String(steps), "--batch", "2", "--short-sides", "96", "--max-size", "512",
         "--test-short-side", "96", "--rois-per-image", "64", "--detections-per-image", "30", "--lr", "0.01", "--warmup-steps", "20", "--no-augment",
         "--checkpoint-every", "1000", "--log-every", "50", "--workers", "1"]
    }

    func testPointRendOverfitsTheFixtureShardsAndTrainShardsScoresItsPredictions() throws {
        let out = try temporaryFolder()
        // 120 steps: measured AP50 0.68 on these fixtures (80 steps gave 0.31).
        let run = try python(trainArguments(out: out, steps: 120))
        XCTAssertEqual(run.status, 0, run.errors)
        XCTAssertTrue(run.output.contains("pointrend resnet18-FPN"), run.output)
        let predict = try python(["-m", "synmix_torch.predict", "--run", out, "--shards", "\(fixtureShards)/mix-000000.tar", "--out", "\(out)/predictions"])
        XCTAssertEqual(predict.status, 0, predict.errors)
        XCTAssertTrue(predict.output.contains("wrote predictions for 3 images"), predict.output)
        let evaluate = try runProgramCapturingErrors(trainer, ["evaluate", "--predictions", "\(out)/predictions",
                                                               "--shards", "\(fixtureShards)/mix-000000.tar", "--out", "\(out)/evaluation"])
        XCTAssertEqual(evaluate.status, 0, evaluate.errors)
        XCTAssertTrue(evaluate.output.contains("evaluated 3 images at 256x128 against the shards' ground truth"), evaluate.output)
        let ap50 = try XCTUnwrap(try evaluation("\(out)/evaluation")["ap50"]?.doubleValue)
        XCTAssertGreaterThanOrEqual(ap50, 0.5, evaluate.output)
    }

    func testPointRendTrainsUnderTorchrunOnTwoRanks() throws {
        let out = try temporaryFolder()
        // All six fixture frames, the one that is all void (a test-split frame) among them.
        var arguments = trainArguments(out: out, steps: 6, shards: "\(fixtureShards)/mix-*.tar")
            + ["--eval", "fixtures=\(fixtureShards)/mix-*.tar", "--evaluator", trainer]
        arguments[arguments.firstIndex(of: "--batch")! + 1] = "1"
        arguments[arguments.firstIndex(of: "--detections-per-image")! + 1] = "10"
        let run = try python(["--nproc_per_node", "2", "--master_port", String(29_500 + Int.random(in: 1...400))] + arguments,
                             program: "torchrun", threads: 1)
        XCTAssertEqual(run.status, 0, run.errors)
        XCTAssertTrue(run.output.contains("6 steps of 2 images (2 train) over 2 process(es) on cpu"), run.output)
        let metrics = try JSON.parse(try Files.read("\(out)/metrics.json"))
        XCTAssertEqual(metrics["steps"]?.arrayValue?.count, 6)
        XCTAssertEqual(metrics["training"]?["processes"]?.intValue, 2)
        let losses = try XCTUnwrap(metrics["steps"]?.arrayValue?.compactMap { $0["loss"]?.doubleValue })
        XCTAssertEqual(losses.count, 6)
        XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(losses)")   // also the steps with the all-void frame
        // --eval: rank 0 predicted the val shards at the end and train-shards scored them into metrics.json.
        let evaluations = try XCTUnwrap(metrics["evaluations"]?.arrayValue)
        XCTAssertEqual(evaluations.map { $0["step"]?.intValue }, [6])
        XCTAssertEqual(evaluations.first?["result"]?["images"]?.intValue, 6)
        XCTAssertTrue(run.output.contains("step 6: fixtures AP "), run.output)
        let predict = try python(["-m", "synmix_torch.predict", "--run", out, "--shards", "\(fixtureShards)/mix-000000.tar", "--out", "\(out)/p"])
        XCTAssertEqual(predict.status, 0, predict.errors)
        XCTAssertEqual(Files.list("\(out)/p").filter { $0.hasSuffix("_pred.txt") }.count, 3)
    }

    /// Predictions written from the ground truth itself, shifted and with some confusions, so that AP is
    /// neither 0 nor 1: scored against shards packed at the images' own size and against the Cityscapes
    /// folder they came from (the path identical to cityscapesScripts), the numbers are the same.
    func testScoringAgainstShardsEqualsTheOfficialScoringOnTheSameImages() throws {
        let folder = try temporaryFolder()
        var harmonize = HarmonizeOptions(dataset: .cityscapes, root: "\(fixturesFolder)/cityscapes", out: "\(folder)/manifest",
                                         mappingPath: "\(mappingsFolder)/cityscapes.yaml", taxonomyPath: taxonomyPath)
        harmonize.split = .train
        _ = try Harmonizer.run(harmonize)
        var pack = PackOptions(inputs: [PackInput(name: "real", manifest: "\(folder)/manifest")], out: "\(folder)/shards")
        pack.split = .train
        pack.sample.maxSize = (2048, 1024)   // every fixture image at its own size
        pack.taxonomy = try Taxonomy(contentsOf: taxonomyPath)
        _ = try Packer.run(pack)
        let shards = Files.list("\(folder)/shards").filter { $0.hasSuffix(".tar") }.sorted().map { "\(folder)/shards/\($0)" }
        var written = 0
        try Files.createDirectory("\(folder)/predictions/masks")
        try ShardStream(shards: shards, bufferSize: 1, seed: 0, shuffle: false).forEach(epoch: 0) { sample in
            let record = try DecodedSample(sample).record
            var predictions: [(className: String, score: Double, mask: RLE)] = []
            for (i, instance) in record.instances.enumerated() where !instance.isCrowd {
                var pixels = instance.mask.decode()   // column-major: shift right by i % 3 columns
                let shift = (i % 3) * 2 * record.height
                pixels = Array(repeating: 0, count: shift) + pixels.dropLast(shift)
                let className = i % 4 == 3 ? "truck" : instance.className   // every fourth a confusion
                predictions.append((className, 1 - 0.07 * Double(i % 9), RLE.encode(mask: pixels, height: record.height, width: record.width)))
            }
            let name = Files.safeName(String(record.id.split(separator: "/").last!))
            try CityscapesEvaluation.writePredictions(image: name, predictions, to: "\(folder)/predictions")
            written += 1
            return true
        }
        XCTAssertEqual(written, 3)
        let fromShards = try runProgramCapturingErrors(trainer, ["evaluate", "--predictions", "\(folder)/predictions",
                                                                 "--shards", "\(folder)/shards/mix-*.tar", "--out", "\(folder)/a"])
        XCTAssertEqual(fromShards.status, 0, fromShards.errors)
        let official = try runProgramCapturingErrors(trainer, ["evaluate", "--predictions", "\(folder)/predictions",
                                                               "--cityscapes-gt", "\(fixturesFolder)/cityscapes", "--split", "train", "--out", "\(folder)/b"])
        XCTAssertEqual(official.status, 0, official.errors)
        let (a, b) = (try evaluation("\(folder)/a"), try evaluation("\(folder)/b"))
        let ap = try XCTUnwrap(a["ap"]?.doubleValue)
        XCTAssertGreaterThan(ap, 0.05)
        XCTAssertLessThan(ap, 0.95)
        XCTAssertEqual(ap, try XCTUnwrap(b["ap"]?.doubleValue), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(a["ap50"]?.doubleValue), try XCTUnwrap(b["ap50"]?.doubleValue), accuracy: 1e-12)
        for name in CityscapesEvaluation.classes.map(\.name) {
            XCTAssertEqual(a["classes"]?[name]?["ap"]?.doubleValue, b["classes"]?[name]?["ap"]?.doubleValue, name)
        }
        // A sample without its prediction file is reported and skipped; the others are scored.
        let missing = Files.list("\(folder)/predictions").filter { $0.hasSuffix("_pred.txt") }.sorted()[0]
        try FileManager.default.removeItem(atPath: "\(folder)/predictions/\(missing)")
        let partial = try runProgramCapturingErrors(trainer, ["evaluate", "--predictions", "\(folder)/predictions",
                                                              "--shards", "\(folder)/shards/mix-*.tar", "--max-errors", "1"])
        XCTAssertEqual(partial.status, 0, partial.errors)
        XCTAssertTrue(partial.output.contains("evaluated 2 images"), partial.output)
        XCTAssertTrue(partial.errors.contains("no prediction file \(missing.replacingOccurrences(of: "_pred.txt", with: ""))_*.txt"), partial.errors)
    }
}
