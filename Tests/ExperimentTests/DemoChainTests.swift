import Foundation
import XCTest
@testable import Experiment
import SynmixCore
import TestSupport

/// The whole demo chain on a tiny configuration (10 real and 40 synthetic 128×64
/// frames, 3 training steps per run): each stage's output must feed the next.
final class DemoChainTests: XCTestCase {
    func testEveryStageFeedsTheNextAndTheReportQuotesTheRuns() throws {
        let bin = "\(repositoryRoot)/.build/debug"
        guard FileManager.default.isExecutableFile(atPath: "\(bin)/train-shards") else {
            return XCTFail("the stage executables are not built in \(bin): run `swift build --build-tests`")
        }
        let out = try temporaryFolder()
        let settings = DemoSettings.tiny(out: out, bin: bin, mappings: mappingsFolder)
        XCTAssertEqual(settings.syntheticCounts, [5, 10, 16, 35])
        let results = try DemoRunner(settings: settings, log: { _ in }).run()

        // harmonize → manifests of every generated frame; filter-instances → the same records, some instances removed.
        XCTAssertEqual(try readManifest("\(out)/real").count, 10)
        XCTAssertEqual(try readManifest("\(out)/synthetic").count, 40)
        XCTAssertEqual(try readManifest("\(out)/synthetic-filtered").count, 40)
        let unsplit = try readManifest("\(out)/synthetic-unsplit").flatMap(\.instances).filter { $0.className == "rider" }.count
        let split = try readManifest("\(out)/synthetic").flatMap(\.instances).filter { $0.className == "rider" }.count
        XCTAssertGreaterThan(split, 0)
        XCTAssertEqual(unsplit, 0)   // the ablation mapping keeps riders inside their two-wheelers
        // pack-mix → shards holding the planned samples.
        func samples(_ name: String) throws -> Int {
            try JSON.parse(try Files.read("\(out)/shards/\(name)/index.json"))["shards"]!.arrayValue!.reduce(0) { $0 + $1["samples"]!.intValue! }
        }
        XCTAssertEqual(try samples("real-train"), 6)
        XCTAssertEqual(try samples("real-val"), 4)
        XCTAssertEqual(try samples("synthetic-val"), 4)
        XCTAssertEqual(try samples("mix-10"), 16)
        XCTAssertEqual(try samples("synthetic-35"), 35)
        // train-shards → every configuration trained and evaluated on both val sets.
        XCTAssertEqual(results.runs.count, 13 + 2)   // 13 configurations, real-only and share-35 with a second seed
        for run in results.runs { XCTAssertEqual(run.steps, run.name == "pretrain-finetune" ? 1 : 3, run.name) }
        let metrics = try JSON.parse(try Files.read("\(out)/runs/share-35-s1/metrics.json"))
        XCTAssertEqual(metrics["training"]?["shares"]?.arrayValue?.compactMap(\.doubleValue), [0.5, 0.5])
        let evaluation = try XCTUnwrap(metrics["evaluations"]?.arrayValue?.last?["result"])
        XCTAssertEqual(evaluation["images"]?.intValue, 4)
        XCTAssertEqual(evaluation["resolution"]?.arrayValue?.compactMap(\.intValue), [64, 32])
        XCTAssertTrue(Files.exists("\(out)/runs/pretrain-finetune-s1/model.safetensors"))
        XCTAssertTrue(try String(contentsOfFile: "\(out)/logs/train-pretrain-finetune-s1.log", encoding: .utf8)
            .contains("initialised from \(out)/runs/synthetic-only-s1/model.safetensors"))
        // The report quotes those runs' numbers.
        let report = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        let realOnly = results.all("real-only")
        XCTAssertEqual(realOnly.count, 2)
        let expected = String(format: "%.1f (%.1f, %.1f)", 100 * (realOnly[0].real.ap + realOnly[1].real.ap) / 2,
                              100 * realOnly[0].real.ap, 100 * realOnly[1].real.ap)
        XCTAssertTrue(report.contains("| real (6 images) | \(expected) |"), report)
        XCTAssertTrue(report.contains("## Table 2"))
        XCTAssertEqual(results.checks.count, 4)
        let html = try String(contentsOfFile: "\(out)/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<img src=\"table2.png\""))
        let plot = try PNGCodec.header(of: try Files.read("\(out)/table2.png"), path: "table2.png")
        XCTAssertEqual([plot.width, plot.height], [720, 440])
    }
}
