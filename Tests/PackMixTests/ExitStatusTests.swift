import Foundation
import XCTest
import SynmixCore
import TestSupport
import SynmixFormats

/// Every stage reports a bad input, skips it, finishes the rest, and exits 1 only when more
/// inputs were skipped than --max-errors allows (default 0).
final class ExitStatusTests: XCTestCase {
    func stage(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        guard let executable = builtExecutable(name) else {
            XCTFail("\(name) is not built (run `swift build --build-tests`)")
            return (-1, "", "")
        }
        return try runProgramCapturingErrors(executable, arguments)
    }

    func testHarmonizeSkipsADamagedLabelAndItsExitStatusFollowsMaxErrors() throws {
        let root = try temporaryFolder()
        try FileManager.default.copyItem(atPath: "\(fixturesFolder)/cityscapes/leftImg8bit", toPath: "\(root)/leftImg8bit")
        try FileManager.default.copyItem(atPath: "\(fixturesFolder)/cityscapes/gtFine", toPath: "\(root)/gtFine")
        let label = "\(root)/gtFine/val/frankfurt/frankfurt_000003_000076_gtFine_instanceIds.png"
        try Files.writeAtomically(Array(try Files.read(label).prefix(100)), to: label)
        let arguments = ["--dataset", "cityscapes", "--root", root, "--split", "all"]
        let strict = try stage("harmonize", arguments + ["--out", try temporaryFolder()])
        XCTAssertEqual(strict.status, 1, strict.errors)
        XCTAssertTrue(strict.errors.contains("  skipped: \(label): "), strict.errors)
        XCTAssertTrue(strict.errors.contains("harmonize: 1 skipped inputs exceed --max-errors 0"), strict.errors)
        XCTAssertTrue(strict.output.contains("harmonize: 5 images written, 1 errors"), strict.output)
        let tolerant = try stage("harmonize", arguments + ["--out", try temporaryFolder(), "--max-errors", "1"])
        XCTAssertEqual(tolerant.status, 0, tolerant.errors)
    }

    func testFilterInstancesSkipsAMalformedLineAndItsExitStatusFollowsMaxErrors() throws {
        let input = try temporaryFolder()
        let lines = try String(contentsOfFile: "\(fixtureManifests.synthetic)/manifest.jsonl", encoding: .utf8)
        try Files.writeAtomically("{not json\n" + lines, to: "\(input)/manifest.jsonl")
        let strict = try stage("filter-instances", ["--in", input, "--out", try temporaryFolder()])
        XCTAssertEqual(strict.status, 1, strict.errors)
        XCTAssertTrue(strict.errors.contains("  skipped: \(input)/manifest.jsonl:1: not valid JSON"), strict.errors)
        XCTAssertTrue(strict.errors.contains("filter-instances: 1 skipped inputs exceed --max-errors 0"), strict.errors)
        XCTAssertEqual(try stage("filter-instances", ["--in", input, "--out", try temporaryFolder(), "--max-errors", "1"]).status, 0)
    }

    func testPackMixSkipsAMissingImageAndItsExitStatusFollowsMaxErrors() throws {
        let input = try temporaryFolder()
        var records = try readManifest(fixtureManifests.real)
        records[0].image = "missing.png"
        try Files.writeAtomically(records.map { $0.jsonLine + "\n" }.joined(), to: "\(input)/manifest.jsonl")
        let arguments = ["--real", input, "--split", "all"]
        let strict = try stage("pack-mix", arguments + ["--out", try temporaryFolder()])
        XCTAssertEqual(strict.status, 1, strict.errors)
        XCTAssertTrue(strict.errors.contains("missing.png: image unreadable"), strict.errors)
        XCTAssertTrue(strict.errors.contains("pack-mix: 1 skipped inputs exceed --max-errors 0"), strict.errors)
        XCTAssertTrue(strict.output.contains("pack-mix: 5 samples"), strict.output)
        XCTAssertEqual(try stage("pack-mix", arguments + ["--out", try temporaryFolder(), "--max-errors", "1"]).status, 0)
    }

    /// Every numeric and enumerated option is checked before any work: a usage error (exit 64) naming the flag.
    func testBadOptionValuesAreUsageErrorsNamingTheFlag() throws {
        let folder = try temporaryFolder()
        let cases: [(String, [String], String)] = [
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--scale", "1e9"], "--scale must be in (0, 16], got 1000000000.0"),
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--scale", "nan"], "--scale must be in (0, 16], got nan"),
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--jobs", "0"], "--jobs (or --threads) must be at least 1, got 0"),
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--max-errors=-1"], "--max-errors must be 0 or more, got -1"),
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--partition", "3/2"], "The value '3/2' is invalid for '--partition <partition>'"),
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--max-size", "0x10"], "The value '0x10' is invalid for '--max-size <max-size>'"),
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--partition", "1/2", "--shard-size", "100"], "--partition rotates shards by --shard-samples only"),
            ("pack-mix", ["--real", folder, "--out", folder + "/o", "--synthetic-count", "5"], "--synthetic-count and --synthetic-fraction need --synthetic"),
            ("harmonize", ["--dataset", "kitti", "--root", folder, "--out", folder + "/o"], "The value 'kitti' is invalid for '--dataset <dataset>'"),
            ("harmonize", ["--dataset", "cityscapes", "--root", folder, "--out", folder + "/o", "--max-pixels", "0"], "--max-pixels must be positive, got 0"),
            ("harmonize", ["--dataset", "synscapes", "--root", folder, "--out", folder + "/o", "--val-fraction", "1"], "--val-fraction must be in [0, 1), got 1.0"),
            ("filter-instances", ["--in", folder, "--out", folder + "/o", "--max-occlusion", "2"], "--max-occlusion must be in [0, 1], got 2.0"),
            ("filter-instances", ["--in", folder, "--out", folder + "/o", "--policy", "keep"], "The value 'keep' is invalid for '--policy <policy>'"),
            ("synmix-generate", ["cityscapes", "--out", folder + "/o", "--count", "0"], "--count must be at least 1, got 0"),
            ("synmix-generate", ["synscapes", "--out", folder + "/o", "--count", "2", "--width", "100000"], "--width/--height must be at least 64x32"),
        ]
        for (tool, arguments, message) in cases {
            let (status, _, errors) = try stage(tool, arguments)
            XCTAssertEqual(status, 64, "\(tool) \(arguments): \(errors)")
            XCTAssertTrue(errors.contains(message), "\(tool) \(arguments): \(errors)")
        }
    }
}
