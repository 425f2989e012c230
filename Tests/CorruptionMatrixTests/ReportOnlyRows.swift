import Foundation
@testable import Experiment
import Network
import ShardData
import SynmixCore
import TestSupport
@testable import TrainShards
import XCTest

/// `synmix-demo --report-only` reads each run's metrics.json: a truncated, missing or foreign one (another
/// preset or plan) is an error naming the file and the difference, never a report built from it.
final class ReportOnlyCorruptionTests: XCTestCase {
    /// A finished 2-step run evaluated on "real" and "synthetic", and the demo's run entry for it.
    func finishedRun() throws -> TrainingRun {
        let folder = try temporaryFolder()
        let classes = try Taxonomy(contentsOf: taxonomyPath).classes.filter(\.hasInstances).map(\.name)
        var options = FitOptions(sources: [TrainingSource(name: "train0", shards: ResumeCorruptionTests.shards)], out: folder,
                                 config: ModelConfig(width: 4, classes: classes))
        options.steps = 2
        options.batch = 2
        (options.inputWidth, options.inputHeight) = (64, 32)
        options.threads = 1
        options.evaluations = [("real", ResumeCorruptionTests.shards), ("synthetic", ResumeCorruptionTests.shards)]
        _ = try Trainer.fit(options) { _ in }
        return TrainingRun(name: "real-only", seed: 1, tool: "train-shards", arguments: ["fit", "--out", folder, "--steps", "2", "--batch", "2", "--input-size", "64x32",
                                                                   "--width", "4", "--lr", "0.003", "--seed", "1"],
                           after: nil, folder: folder, realImages: 6, syntheticImages: 0)
    }

    func testTruncatedMissingOrForeignMetricsAreNamedErrorsNotAReport() throws {
        let run = try finishedRun()
        let file = "\(run.folder)/metrics.json"
        XCTAssertEqual(try RunResult(run).steps, 2)
        let valid = try Files.read(file)
        func withArgument(_ flag: String, _ value: String) -> TrainingRun {
            var other = run
            other.arguments[other.arguments.firstIndex(of: flag)! + 1] = value
            return other
        }
        let cases: [(String, () throws -> TrainingRun, String)] = [
            ("truncated", { try Files.writeAtomically(Array(valid.prefix(valid.count / 2)), to: file); return run }, "not valid JSON"),
            ("missing", { unlink(file); return run }, "missing: run real-only seed 1 has not finished"),
            ("not a training log", { try Files.writeAtomically("[]", to: file); return run }, "not a training metrics.json"),
            ("another preset's steps", { withArgument("--steps", "4") }, "last step (2 there, 4 expected)"),
            ("another seed", { withArgument("--seed", "2") }, "seed (1 there, 2 expected)"),
            ("another input size", { withArgument("--input-size", "128x64") }, "input size (64x32 there, 128x64 expected)"),
            ("another width", { withArgument("--width", "8") }, "width (4 there, 8 expected)"),
            ("without the real evaluation", {
                try Files.writeAtomically(String(decoding: valid, as: UTF8.self).replacingOccurrences(of: "\"real\"", with: "\"other\""), to: file)
                return run
            }, "no evaluation on real"),
        ]
        for (name, damage, reason) in cases {
            try Files.writeAtomically(valid, to: file)
            let damaged = try damage()
            XCTAssertThrowsError(try RunResult(damaged), name) { error in
                XCTAssertEqual((error as? FileError)?.path, file, "\(name): \(error)")
                XCTAssertTrue("\(error)".contains(reason), "\(name): \(error)")
            }
        }
        XCTAssertEqual(cases.count, 8)
    }
}
