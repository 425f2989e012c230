import Evaluation
import Foundation
import XCTest
@testable import Network
@testable import ShardData
@testable import TrainShards
import SynmixCore
import TestSupport
import SynmixFormats

/// `train-shards evaluate` and `fit` on hostile shard samples: a key that repeats, a class
/// outside the taxonomy. Built from the first fixture shard (3 samples at 256×128).
final class ShardEvaluationTests: XCTestCase {
    static let taxonomyClasses = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]

    var trainer: String { "\(repositoryRoot)/.build/release/train-shards" }

    /// The members of the first fixture shard, in archive order (json, image per sample).
    func fixtureMembers() throws -> [Tar.Member] {
        try Tar.read(try Files.read("\(fixtureShards)/mix-000000.tar"))
    }

    /// A shard of `members` (name, data) at a new path.
    func writeShard(_ members: [(String, [UInt8])]) throws -> String {
        let bytes = members.flatMap { Tar.member(name: $0.0, data: $0.1) }
        let path = "\(try temporaryFolder())/mix-000000.tar"
        try Files.writeAtomically(bytes + Tar.trailer(after: bytes.count), to: path)
        return path
    }

    func predictor() -> Predictor {
        Predictor(model: Model(config: ModelConfig(width: 8, classes: Self.taxonomyClasses), seed: 1), inputWidth: 64, inputHeight: 32)
    }

    func visitedKeys(_ path: String) throws -> (keys: [String], reports: [String]) {
        var keys: [String] = [], reports: [String] = []
        try ShardEvaluation.forEachSample([path], jobs: 2, report: { reports.append("\($0)") }) { keys.append($0.key) }
        return (keys, reports)
    }

    // MARK: a key that repeats

    func testASampleRepeatedUnderItsKeyKeepsTheFirstAndReportsTheSecond() throws {
        let members = try fixtureMembers().map { ($0.name, Array($0.data)) }
        let keys = stride(from: 0, to: members.count, by: 2).map { String(members[$0].0.prefix { $0 != "." }) }
        XCTAssertEqual(keys.count, 3)
        let path = try writeShard(Array(members[0..<2]) + members)   // the first sample twice, back to back
        let offset = try Tar.read(try Files.read(path))[2].offset
        let visited = try visitedKeys(path)
        XCTAssertEqual(visited.keys, keys)
        XCTAssertEqual(visited.reports, ["\(path): sample \(keys[0]) at byte \(offset) repeats an earlier sample's key; skipped"])
        let outcome = try ShardEvaluation.evaluate(predictor(), shards: [path], jobs: 2, report: { _ in })
        XCTAssertEqual(outcome.result.images, 3)
    }

    /// KEY.json KEY.json KEY.png: the first json and the image are the sample. The second json is
    /// another sample's (so taking it would fail on its key); it is reported, and nothing is lost.
    func testARepeatedJsonMemberIsReportedAndTheFirstPairIsKept() throws {
        let members = try fixtureMembers().map { ($0.name, Array($0.data)) }
        let keys = stride(from: 0, to: members.count, by: 2).map { String(members[$0].0.prefix { $0 != "." }) }
        let stranger = (members[0].0, members[2].1)   // the second sample's json under the first's name
        let path = try writeShard([members[0], stranger] + members.dropFirst())
        let offset = try Tar.read(try Files.read(path))[1].offset
        var reports: [String] = []
        let outcome = try ShardEvaluation.evaluate(predictor(), shards: [path], jobs: 2, report: { reports.append("\($0)") })
        XCTAssertEqual(outcome.result.images, 3)
        XCTAssertEqual(reports, ["\(path): sample \(keys[0]) at byte \(offset) repeats an earlier sample's key; skipped"])
        XCTAssertEqual(try visitedKeys(path).keys, keys)
    }

    // MARK: a class outside the taxonomy

    /// The fixture shard with the first sample that has instances given a class outside the taxonomy
    /// for its instance 0: the shard, that sample's key and the instance's mask.
    func shardWithAnUnknownClass() throws -> (path: String, key: String, mask: RLE) {
        var members = try fixtureMembers().map { ($0.name, Array($0.data)) }
        let index = try XCTUnwrap(try members.indices.first { k in
            try members[k].0.hasSuffix(".json") && !SampleRecord(bytes: members[k].1, file: members[k].0).instances.isEmpty
        })
        var record = try SampleRecord(bytes: members[index].1, file: members[index].0)
        record.instances[0].className = "caravan"
        members[index].1 = Array(record.json.compact.utf8)
        return (try writeShard(members), record.key, record.instances[0].mask)
    }

    func unknownClassReport(_ path: String, _ key: String, scope: String) -> String {
        "\(path): sample \(key): instance 0 has class 'caravan', outside \(scope) "
            + "(\(Self.taxonomyClasses.joined(separator: ", "))); used as an ignore region"
    }

    func testEvaluateReportsAClassOutsideTheTaxonomyAndScoresItAsAnIgnoreRegion() throws {
        let (path, key, mask) = try shardWithAnUnknownClass()
        var reports: [String] = []
        let outcome = try ShardEvaluation.evaluate(predictor(), shards: [path], jobs: 2, report: { reports.append("\($0)") })
        XCTAssertEqual(outcome.result.images, 3)
        XCTAssertEqual(reports, [unknownClassReport(path, key, scope: "the model's classes")])

        // The ground truth the evaluator gets: the other instances, and the instance inside the ignore region.
        var decoded: DecodedSample?
        try ShardEvaluation.forEachSample([path], jobs: 1, report: { _ in }) { if $0.key == key { decoded = $0 } }
        let sample = try XCTUnwrap(decoded)
        var again: [String] = []
        let truth = ShardEvaluation.groundTruth(sample, classes: Self.taxonomyClasses, scope: "the model's classes",
                                                report: { again.append("\($0)") })
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(truth.instances.map(\.id), Array(sample.record.instances.dropFirst()).map(\.id))
        let ignore = try XCTUnwrap(truth.ignore)
        XCTAssertEqual(ignore.intersectionArea(mask), mask.area)
        XCTAssertEqual(ignore.area, mask.union(sample.record.ignore ?? RLE.empty(height: mask.height, width: mask.width)).area)
    }

    func testEvaluatingPredictionsReportsAClassOutsideTheEvaluatedClasses() throws {
        let (path, key, _) = try shardWithAnUnknownClass()
        let predictions = try temporaryFolder()
        try ShardEvaluation.forEachSample([path], jobs: 1, report: { _ in }) { sample in
            let name = String(sample.record.id.split(separator: "/").last!)
            try Files.writeAtomically([UInt8](), to: "\(predictions)/\(name)_pred.txt")   // no instance predicted
        }
        var reports: [String] = []
        let outcome = try ShardEvaluation.evaluate(predictions: predictions, shards: [path], jobs: 2, report: { reports.append("\($0)") })
        XCTAssertEqual(outcome.result.images, 3)
        XCTAssertEqual(reports, [unknownClassReport(path, key, scope: "the evaluated classes")])
    }

    /// Perfect predictions of every instance, plus a confident "car" on the caravan: with the caravan
    /// an ignore region that prediction is no false positive, so every class present scores AP 1.
    func testAPredictionOnAnInstanceOfAnUnknownClassIsNotAFalsePositive() throws {
        let (path, key, caravan) = try shardWithAnUnknownClass()
        let predictions = try temporaryFolder()
        try Files.createDirectory("\(predictions)/masks")
        var present: Set<String> = []
        try ShardEvaluation.forEachSample([path], jobs: 1, report: { _ in }) { sample in
            let record = sample.record
            // At the original size, as the results format has it (whole multiples of the shard's size).
            func original(_ mask: RLE) throws -> RLE {
                try XCTUnwrap(Resize.masks([mask], ignore: nil, width: record.originalWidth, height: record.originalHeight).instances[0])
            }
            var rows: [(className: String, score: Double, mask: RLE)] = []
            for instance in record.instances where !instance.isCrowd && Self.taxonomyClasses.contains(instance.className) {
                rows.append((instance.className, 0.5, try original(instance.mask)))
                present.insert(instance.className)
            }
            if sample.key == key { rows.append(("car", 0.99, try original(caravan))) }
            try CityscapesEvaluation.writePredictions(image: String(record.id.split(separator: "/").last!), rows, to: predictions)
        }
        let outcome = try ShardEvaluation.evaluate(predictions: predictions, shards: [path], jobs: 2, report: { _ in })
        XCTAssertFalse(present.isEmpty)
        for name in present.sorted() {
            let c = try XCTUnwrap(outcome.result.classNames.firstIndex(of: name))
            XCTAssertEqual(outcome.result.classAP(c), 1, name)
        }
    }

    /// The trainer's targets: an instance of a class the model does not know is ignore (-1), not
    /// background (0), and has no centre or offset target.
    func testTrainingTargetsMakeAnUnknownClassAnIgnoreRegion() throws {
        let (path, key, mask) = try shardWithAnUnknownClass()
        var decoded: DecodedSample?
        try ShardEvaluation.forEachSample([path], jobs: 1, report: { _ in }) { if $0.key == key { decoded = $0 } }
        var sample = try XCTUnwrap(decoded)
        sample.record.instances = [sample.record.instances[0]]   // the caravan alone
        sample.record.ignore = nil
        var random = SplitMix64(seed: 0)
        let (width, height) = (sample.record.width, sample.record.height)
        let prepared = Targets.prepare(sample, classes: Self.taxonomyClasses, width: width, height: height,
                                       augmentation: nil, random: &random)
        // Head pixel (x, y) samples the label at input pixel (4x + 2, 4y + 2).
        var inside = 0
        mask.forEachForegroundPixel { pixel in
            let (x, y) = (pixel % width, pixel / width)
            guard x % 4 == 2, y % 4 == 2 else { return }
            XCTAssertEqual(prepared.semantic[(y / 4) * (width / 4) + x / 4], -1)
            inside += 1
        }
        XCTAssertGreaterThan(inside, 0)
        XCTAssertEqual(prepared.offsetWeight.reduce(0, +), 0)
        XCTAssertEqual(prepared.center.max(), 0)
        XCTAssertEqual(sample.unknownClasses(Self.taxonomyClasses, scope: "the taxonomy's instance classes")?.description,
                       unknownClassReport(path, key, scope: "the taxonomy's instance classes"))
    }

    func testFitReportsAClassOutsideTheTaxonomyAndTrainsOn() throws {
        guard FileManager.default.isExecutableFile(atPath: trainer) else {
            return XCTFail("\(trainer) is not built: swift build -c release --product train-shards")
        }
        let (path, key, _) = try shardWithAnUnknownClass()
        let out = try temporaryFolder()
        let arguments = ["fit", "--train", path, "--steps", "2", "--batch", "3"]
        let (status, output, errors) = try runProgramCapturingErrors(trainer, arguments + ["--out", out])
        // Reported once per epoch that meets it; counted once against --max-errors (0 by default).
        XCTAssertEqual(status, 1, errors)
        XCTAssertTrue(errors.contains("train-shards fit: 1 skipped inputs exceed --max-errors 0"), errors)
        XCTAssertTrue(output.contains("skipped: " + unknownClassReport(path, key, scope: "the taxonomy's instance classes")), output)
        let metrics = try JSON.parse(try Files.read("\(out)/metrics.json"))
        XCTAssertEqual(metrics["steps"]?.arrayValue?.count, 2)
        XCTAssertEqual(metrics["skipped"]?.arrayValue?.first?["file"]?.stringValue, path)
        XCTAssertEqual(try runProgramCapturingErrors(trainer, arguments + ["--out", try temporaryFolder(), "--max-errors", "1"]).0, 0)
    }
}
