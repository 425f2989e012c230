import Foundation
import XCTest
import Harmonize
import PackMix
@testable import Network
@testable import ShardData
@testable import TrainShards
import SynmixCore
import TestSupport
import SynmixFormats

/// The Cityscapes fixtures (6 frames, one without instances) packed at 256×128 in 2 shards, made once.
let fixtureShards: String = {
    let folder = try! temporaryFolder("train-fixtures")
    var harmonize = HarmonizeOptions(dataset: .cityscapes, root: "\(fixturesFolder)/cityscapes", out: "\(folder)/manifest",
                                     mappingPath: "\(mappingsFolder)/cityscapes.yaml", taxonomyPath: taxonomyPath)
    harmonize.split = .all
    _ = try! Harmonizer.run(harmonize)
    var pack = PackOptions(inputs: [PackInput(name: "real", manifest: "\(folder)/manifest")], out: "\(folder)/shards")
    pack.split = .all
    pack.shardSamples = 3
    pack.sample.maxSize = (256, 128)
    pack.taxonomy = try! Taxonomy(contentsOf: taxonomyPath)
    _ = try! Packer.run(pack)
    return "\(folder)/shards"
}()

/// `train-shards` as users run it. Training runs the release binary (`make test`
/// builds it): numeric code in a debug build is ~20× slower.
final class FitTests: XCTestCase {
    var trainer: String { "\(repositoryRoot)/.build/release/train-shards" }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        guard FileManager.default.isExecutableFile(atPath: trainer) else {
            XCTFail("\(trainer) is not built: run `make test` (it builds the release trainer first)")
            return (-1, "", "")
        }
        return try runProgramCapturingErrors(trainer, arguments)
    }

    func losses(_ out: String) throws -> [Double] {
        try JSON.parse(try Files.read("\(out)/metrics.json"))["steps"]!.arrayValue!.map { $0["loss"]!.doubleValue! }
    }

    func testZeroOrNegativeCountsAndThreadsAreUsageErrorsNotTrapsOrHangs() throws {
        let out = try temporaryFolder()
        let shards = "\(fixtureShards)/mix-*.tar"
        for (arguments, message) in [
            (["fit", "--train", shards, "--out", out, "--steps", "2", "--eval-every", "0"], "must be positive"),
            (["fit", "--train", shards, "--out", out, "--steps", "0"], "must be positive"),
            (["fit", "--train", shards, "--out", out, "--steps", "2", "--lr", "nan"], "--lr and --center-sigma must be positive numbers"),
            (["evaluate", "--model", "\(out)/none.safetensors", "--shards", shards, "--jobs", "0"], "--jobs (or --threads) must be at least 1, got 0"),
            (["evaluate", "--model", "\(out)/none.safetensors", "--shards", shards, "--threads=-1"], "--jobs (or --threads) must be at least 1, got -1"),
            (["predict", "--model", "\(out)/none.safetensors", "--shards", shards, "--out", out, "--jobs", "0"], "--jobs (or --threads) must be at least 1, got 0"),
            (["predict", "--model", "\(out)/none.safetensors", "--shards", shards, "--out", out, "--max-errors=-1"],
             "--max-errors must be 0 or more, got -1"),
            (["evaluate", "--model", "\(out)/none.safetensors", "--shards", shards, "--input-size", "100x64"],
             "--input-size: 100x64 is not a multiple of 16 on both sides"),
            (["fit", "--train", shards, "--out", out, "--steps", "2", "--input-size", "100000x100000"],
             "--input-size: 100000x100000 is more than the 8388608 pixels an input may have"),
            (["fit", "--train", shards, "--out", out, "--steps", "2", "--width", "100000"], "--width must be at most 256, got 100000"),
        ] {
            let (status, _, errors) = try run(arguments)
            XCTAssertEqual(status, 64, "\(arguments): \(errors)")   // EX_USAGE, from swift-argument-parser's validation
            XCTAssertTrue(errors.contains(message), "\(arguments): \(errors)")
        }
    }

    func testOverfitsAHandfulOfFixtureImages() throws {
        let out = try temporaryFolder()
        let (status, output, errors) = try run(["fit", "--train", "\(fixtureShards)/mix-*.tar", "--eval", "same=\(fixtureShards)/mix-*.tar",
                                                "--out", out, "--steps", "400", "--lr", "0.012", "--no-augment", "--log-every", "100",
                                                "--jobs", "2", "--seed", "0"])
        XCTAssertEqual(status, 0, errors)
        XCTAssertTrue(output.contains("step 400/400"), output)
        let metrics = try JSON.parse(try Files.read("\(out)/metrics.json"))
        let result = try XCTUnwrap(metrics["evaluations"]?.arrayValue?.last?["result"])
        XCTAssertEqual(result["images"]?.intValue, 6)
        XCTAssertEqual(result["resolution"]?.arrayValue?.compactMap(\.intValue), [256, 128])
        // 100 px × (256·128)/(2048·1024) for the aachen frame, × (256·128)/(512·256) for the others.
        XCTAssertEqual(result["min_region_sizes"]?.arrayValue?.compactMap(\.doubleValue), [1.5625, 25])
        let ap50 = try XCTUnwrap(result["ap50"]?.doubleValue)
        // Measured 0.87 at 400 steps (0.91 at 500, 0.88 at 600): person and bus, which hold the fixtures' tiny and
        // mostly hidden instances, stay near 0.7; every other class reaches 0.8–1.
        XCTAssertGreaterThan(ap50, 0.8, output)
        let steps = try losses(out)
        XCTAssertEqual(steps.count, 400)
        XCTAssertLessThan(steps.last!, steps.first! / 10)
        XCTAssertTrue(Files.exists("\(out)/model.safetensors"))

        // metrics.json reads back through its owner type to the same bytes; the summary reader agrees with the file.
        let typed = try TrainingMetrics.read(folder: out)
        XCTAssertEqual(typed.json.pretty, String(decoding: try Files.read("\(out)/metrics.json"), as: UTF8.self))
        XCTAssertEqual(typed.steps.count, 400)
        XCTAssertEqual(typed.training["loss_weights"]?["center"]?.doubleValue, 200)
        let summary = try typed.lastEvaluation("same", file: "metrics.json")
        XCTAssertEqual(summary.images, 6)
        XCTAssertEqual(summary.ap50, ap50)
        XCTAssertEqual(summary.classes.map(\.name), ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])
        XCTAssertEqual(summary.ap(of: "car"), result["classes"]?["car"]?["ap"]?.doubleValue)
        XCTAssertThrowsError(try typed.lastEvaluation("other", file: "metrics.json")) {
            XCTAssertEqual("\($0)", "metrics.json: no evaluation on other")
        }
    }

    func testTheSameSeedAndThreadsGiveTheSameLossesStepForStep() throws {
        var runs: [[Double]] = []
        for seed in ["3", "3", "4"] {
            let out = try temporaryFolder()
            let (status, _, errors) = try run(["fit", "--train", "\(fixtureShards)/mix-*.tar", "--out", out, "--steps", "12",
                                               "--batch", "4", "--jobs", "2", "--seed", seed])
            XCTAssertEqual(status, 0, errors)
            runs.append(try losses(out))
        }
        XCTAssertEqual(runs[0].count, 12)
        XCTAssertEqual(runs[0], runs[1])
        XCTAssertNotEqual(runs[0], runs[2])
    }

    func testAKilledRunResumesWithTheUninterruptedLosses() throws {
        let arguments = ["fit", "--train", "\(fixtureShards)/mix-*.tar", "--steps", "40", "--batch", "4", "--jobs", "2",
                         "--seed", "5", "--checkpoint-every", "10"]
        let reference = try temporaryFolder()
        XCTAssertEqual(try run(arguments + ["--out", reference]).status, 0)
        // A second fresh run into the same folder would mix two runs' checkpoints: refused, naming both ways out.
        let again = try run(arguments + ["--out", reference])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.errors.contains("\(reference) holds an earlier run (\(reference)/checkpoints/step-000040.safetensors): "
                                            + "continue it with --resume, or train into a new --out"), again.errors)

        let interrupted = try temporaryFolder()
        let ending = try runKilled(trainer, arguments + ["--out", interrupted]) {
            Files.exists("\(interrupted)/checkpoints/step-000010.safetensors")
        }
        XCTAssertEqual(ending, .uncaughtSignal, "the run finished before it could be killed")
        XCTAssertFalse(Files.exists("\(interrupted)/model.safetensors"))

        let (status, output, errors) = try run(arguments + ["--out", interrupted, "--resume"])
        XCTAssertEqual(status, 0, errors)
        XCTAssertTrue(output.contains("resumed from \(interrupted)/checkpoints/step-0000"), output)
        XCTAssertEqual(try losses(interrupted), try losses(reference))
        XCTAssertEqual(try Files.read("\(interrupted)/model.safetensors"), try Files.read("\(reference)/model.safetensors"))
    }

    func testACorruptSampleIsReportedAndSkipped() throws {
        let shards = try temporaryFolder()
        for name in Files.list(fixtureShards) where name.hasSuffix(".tar") {
            var bytes = try Files.read("\(fixtureShards)/\(name)")
            if name == "mix-000000.tar" {
                // Garble the first PNG's data (the tar headers stay valid).
                let members = try Tar.read(bytes)
                let png = try XCTUnwrap(members.first { $0.name.hasSuffix(".png") })
                for i in png.data.startIndex + 20..<png.data.startIndex + 60 { bytes[i] ^= 0x5A }
            }
            try Files.writeAtomically(bytes, to: "\(shards)/\(name)")
        }
        let out = try temporaryFolder()
        let arguments = ["fit", "--train", "\(shards)/mix-*.tar", "--steps", "3", "--batch", "4"]
        let (status, output, errors) = try run(arguments + ["--out", out])
        // The run completes; with the default --max-errors 0 its exit status says an input was skipped.
        XCTAssertEqual(status, 1, errors)
        XCTAssertTrue(errors.contains("train-shards fit: 1 skipped inputs exceed --max-errors 0"), errors)
        XCTAssertTrue(output.contains("skipped: \(shards)/mix-000000.tar: sample "), output)
        let skipped = try JSON.parse(try Files.read("\(out)/metrics.json"))["skipped"]!.arrayValue!
        XCTAssertGreaterThanOrEqual(skipped.count, 1)   // once per epoch that reaches it
        XCTAssertEqual(skipped[0]["file"]?.stringValue, "\(shards)/mix-000000.tar")
        XCTAssertEqual(try losses(out).count, 3)
        XCTAssertTrue(Files.exists("\(out)/model.safetensors"))
        XCTAssertEqual(try run(arguments + ["--out", try temporaryFolder(), "--max-errors", "1"]).status, 0)
    }

    func testATruncatedShardIsReportedWithItsNameAndOffset() throws {
        let shards = try temporaryFolder()
        let bytes = try Files.read("\(fixtureShards)/mix-000001.tar")
        try Files.writeAtomically(Array(bytes.prefix(5000)), to: "\(shards)/mix-000001.tar")
        try Files.writeAtomically(try Files.read("\(fixtureShards)/mix-000000.tar"), to: "\(shards)/mix-000000.tar")
        let out = try temporaryFolder()
        let (status, output, errors) = try run(["fit", "--train", "\(shards)/mix-*.tar", "--out", out, "--steps", "2", "--batch", "4",
                                                "--max-errors", "2"])   // the damage and the sample it cut
        XCTAssertEqual(status, 0, errors)
        XCTAssertTrue(output.contains("skipped: \(shards)/mix-000001.tar: at byte "), output)
        XCTAssertTrue(output.contains("truncated"), output)
    }

    func testEmptyShardListsAndForeignCheckpointsAreClearErrors() throws {
        let out = try temporaryFolder()
        var (status, _, errors) = try run(["fit", "--train", "\(out)/none-*.tar", "--out", out, "--steps", "2"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(errors.contains("\(out)/none-*.tar: no shard matches"), errors)

        try Files.writeAtomically(Tar.trailer(after: 0), to: "\(out)/empty.tar")
        (status, _, errors) = try run(["fit", "--train", "\(out)/empty.tar", "--out", out, "--steps", "2"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(errors.contains("\(out)/empty.tar: no readable sample in 1 shard(s)"), errors)

        try Checkpoint.save(Model(config: ModelConfig(width: 8, classes: ["car"])), to: "\(out)/other.safetensors", input: nil)
        (status, _, errors) = try run(["fit", "--train", "\(fixtureShards)/mix-*.tar", "--out", out, "--steps", "2",
                                       "--init", "\(out)/other.safetensors"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(errors.contains("checkpoint of another architecture: it holds {\"architecture\":\"synmix-bottom-up-v1\",\"width\":8"), errors)
        // The width comes from the checkpoint; the classes (the shards' eight) do not match its one.
        XCTAssertTrue(errors.contains("this model is {\"architecture\":\"synmix-bottom-up-v1\",\"width\":8,\"classes\":[\"person\""), errors)
    }

    /// A copy of the trainer outside the repository, with no mappings anywhere, fine-tunes a width-8 checkpoint
    /// without --width or --taxonomy: the width comes from the checkpoint, the classes from the shards' index.json.
    func testFineTuningTakesTheWidthFromTheCheckpointAndTheClassesFromTheShards() throws {
        let folder = try temporaryFolder()
        try FileManager.default.copyItem(atPath: trainer, toPath: "\(folder)/train-shards")
        let classes = try XCTUnwrap(try ShardIndex.read(folder: fixtureShards).taxonomy).instanceClasses
        XCTAssertEqual(classes.count, 8)
        try Checkpoint.save(Model(config: ModelConfig(width: 8, classes: classes)), to: "\(folder)/pre.safetensors", input: nil)
        var environment = ProcessInfo.processInfo.environment
        environment["SYNMIX_MAPPINGS"] = nil
        let (status, _, errors) = try runProgramCapturingErrors("\(folder)/train-shards", [
            "fit", "--train", "\(fixtureShards)/mix-*.tar", "--init", "pre.safetensors", "--out", "run", "--steps", "2",
            "--batch", "2", "--input-size", "64x32"], environment: environment, in: folder)
        XCTAssertEqual(status, 0, errors)
        XCTAssertEqual(try Checkpoint.config(at: "\(folder)/run/model.safetensors"), ModelConfig(width: 8, classes: classes))

        // Without the shards' index.json (and no mappings) the trainer asks for the taxonomy.
        let bare = try temporaryFolder("bare")
        for name in Files.list(fixtureShards) where name.hasSuffix(".tar") {
            try Files.writeAtomically(try Files.read("\(fixtureShards)/\(name)"), to: "\(bare)/\(name)")
        }
        let refused = try runProgramCapturingErrors("\(folder)/train-shards", [
            "fit", "--train", "\(bare)/mix-*.tar", "--out", "run2", "--steps", "2"], environment: environment, in: folder)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.errors.contains("the shards' index.json names no taxonomy and no mappings folder was found: pass --taxonomy FILE"),
                      refused.errors)
    }

    /// predict writes the Cityscapes results format at the original 2048×1024 (and 512×256) sizes;
    /// our evaluator and the official script score those files identically.
    func testPredictionsScoreTheSameWithOursAndTheOfficialScript() throws {
        let out = try temporaryFolder()
        XCTAssertEqual(try run(["fit", "--train", "\(fixtureShards)/mix-*.tar", "--out", out, "--steps", "150", "--lr", "0.012",
                                "--no-augment", "--log-every", "150"]).status, 0)
        let root = try temporaryFolder()
        try FileManager.default.createSymbolicLink(atPath: "\(root)/gtFine", withDestinationPath: "\(fixturesFolder)/cityscapes/gtFine")
        let predict = try run(["predict", "--model", "\(out)/model.safetensors", "--shards", "\(fixtureShards)/mix-*.tar",
                               "--out", "\(root)/results"])
        XCTAssertEqual(predict.status, 0, predict.errors)
        XCTAssertTrue(predict.output.contains("wrote predictions for 6 images"), predict.output)
        let lines = try String(contentsOfFile: "\(root)/results/frankfurt_000003_000076_pred.txt", encoding: .utf8)
            .split(separator: "\n")
        let first = try XCTUnwrap(lines.first, "no instance predicted").split(separator: " ")
        let mask = try PNGCodec.decode(try Files.read("\(root)/results/\(first[0])"), path: String(first[0]))
        XCTAssertEqual([mask.width, mask.height], [512, 256])   // the frame's original size, not the shard's 256×128
        XCTAssertTrue(["24", "25", "26", "27", "28", "31", "32", "33"].contains(String(first[1])))

        let evaluate = try run(["evaluate", "--cityscapes-gt", root, "--predictions", "\(root)/results", "--out", "\(root)/ours"])
        XCTAssertEqual(evaluate.status, 0, evaluate.errors)
        let ours = try JSON.parse(try Files.read("\(root)/ours/metrics.json"))
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let (status, output) = try runProgram(python, ["\(repositoryRoot)/Tests/interop/cityscapes_eval.py", root])
        XCTAssertEqual(status, 0)
        let official = try JSON.parse(output[...])
        XCTAssertEqual(ours["ap"]?.doubleValue, official["allAp"]?.doubleValue)
        XCTAssertEqual(ours["ap50"]?.doubleValue, official["allAp50"]?.doubleValue)
        XCTAssertGreaterThan(ours["ap50"]?.doubleValue ?? 0, 0)
    }

    /// A checkpoint records the input size it was trained at; predict and evaluate use it unless told
    /// otherwise, and another size must be confirmed.
    func testPredictAndEvaluateRunAtTheCheckpointsInputSize() throws {
        let out = try temporaryFolder()
        XCTAssertEqual(try run(["fit", "--train", "\(fixtureShards)/mix-*.tar", "--out", out, "--steps", "2", "--batch", "2",
                                "--input-size", "192x96"]).status, 0)
        let model = "\(out)/model.safetensors", shards = "\(fixtureShards)/mix-*.tar"
        let predict = try run(["predict", "--model", model, "--shards", shards, "--out", "\(out)/predictions"])
        XCTAssertEqual(predict.status, 0, predict.errors)
        XCTAssertTrue(predict.output.contains("wrote predictions for 6 images at 192x96 input"), predict.output)
        let evaluate = try run(["evaluate", "--model", model, "--shards", shards, "--out", "\(out)/evaluation", "--overlays", "2"])
        XCTAssertEqual(evaluate.status, 0, evaluate.errors)
        XCTAssertTrue(evaluate.output.contains("network input 192x96"), evaluate.output)
        // The two images with the most errors, ground truth beside predictions, 2× for 256×128 shards.
        let overlays = Files.list("\(out)/evaluation/overlays").sorted()
        XCTAssertEqual(overlays.count, 2, evaluate.output)
        XCTAssertTrue(overlays.first?.hasPrefix("01-") ?? false, "\(overlays)")
        let picture = try PNGCodec.header(of: try Files.read("\(out)/evaluation/overlays/\(overlays[0])"), path: overlays[0])
        XCTAssertEqual([picture.width, picture.height], [2 * 512 + 8, 256 + 35])

        let refused = try run(["evaluate", "--model", model, "--shards", shards, "--input-size", "256x128"])
        XCTAssertEqual(refused.status, 64, refused.errors)
        XCTAssertTrue(refused.errors.contains("was trained at 192x96; running it at 256x128 needs --other-input-size"), refused.errors)
        let confirmed = try run(["evaluate", "--model", model, "--shards", shards, "--input-size", "256x128", "--other-input-size"])
        XCTAssertEqual(confirmed.status, 0, confirmed.errors)
        XCTAssertTrue(confirmed.output.contains("network input 256x128"), confirmed.output)
    }

    /// --epochs counts the samples from pack-mix's index.json, or by reading shards that have none.
    func testEpochsCountTheSamplesWithOrWithoutAnIndex() throws {
        let bare = try temporaryFolder()
        for name in Files.list(fixtureShards) where name.hasSuffix(".tar") {
            try Files.writeAtomically(try Files.read("\(fixtureShards)/\(name)"), to: "\(bare)/\(name)")
        }
        for shards in [fixtureShards, bare] {
            let out = try temporaryFolder()
            let (status, output, errors) = try run(["fit", "--train", "\(shards)/mix-*.tar", "--out", out, "--epochs", "2", "--batch", "4"])
            XCTAssertEqual(status, 0, errors)
            XCTAssertTrue(output.contains("; 3 steps of 4 at 256x128"), output)   // 2 epochs × 6 samples / 4
        }
    }
}
