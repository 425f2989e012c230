import Foundation
import Synchronization
import XCTest
@testable import Experiment
import SynmixCore
import TestSupport
import SynmixFormats

/// The whole demo chain on a tiny configuration (10 real and 40 synthetic 128×64
/// frames, 4 training steps per run): each stage's output must feed the next.
final class DemoChainTests: XCTestCase {
    func testEveryStageFeedsTheNextAndTheReportQuotesTheRuns() throws {
        let bin = "\(repositoryRoot)/.build/debug"
        guard FileManager.default.isExecutableFile(atPath: "\(bin)/train-shards") else {
            return XCTFail("the stage executables are not built in \(bin): run `swift build --build-tests`")
        }
        let out = try temporaryFolder()
        let settings = DemoSettings(preset: .tiny, out: out, bin: bin, mappings: mappingsFolder)
        XCTAssertEqual(settings.syntheticCounts, [5, 10, 16, 35])
        let results = try DemoRunner(settings: settings, log: { _ in }).run()
        // docs/formats.md names every file the demo wrote and every key in them (the generated datasets aside).
        // Names that are data: the classes, the plan's configurations and the labels of each verdict's inputs.
        let reportJSON = try JSON.parse(try Files.read("\(out)/report.json"))
        var dataNames = Set(try XCTUnwrap(try ShardIndex.read(folder: "\(out)/shards/real-train").taxonomy).classes.map(\.name))
        if case .object(let configurations)? = reportJSON["configurations"] { dataNames.formUnion(configurations.map(\.0)) }
        for verdict in reportJSON["verdicts"]?.arrayValue ?? [] {
            if case .object(let inputs)? = verdict["inputs"] { dataNames.formUnion(inputs.map(\.0)) }
        }
        XCTAssertTrue(dataNames.contains("mixed-35"))
        let formats = try FormatsDocument.gaps(in: out, dataNames: dataNames) { $0.hasPrefix("data/") }
        XCTAssertEqual(formats.problems, [])

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
        XCTAssertEqual(try samples("synthetic-10"), 10)
        XCTAssertEqual(try samples("synthetic-35"), 35)
        XCTAssertEqual(try samples("mix-5"), 11)
        XCTAssertEqual(try samples("mix-35"), 41)
        // train-shards → every configuration trained and evaluated on both val sets: 12 configurations, every compared one
        // and real-only's control with two seeds (real-only, each count, synthetic-only, the fixed share); equal steps but
        // for the 2× controls and the fine-tuning.
        XCTAssertEqual(results.runs.count, 20)
        let controls = [DemoRun.control(DemoRun.realOnly), DemoRun.control(DemoRun.mixed(35))]
        for run in results.runs {
            XCTAssertEqual(run.steps, controls.contains(run.name) ? 8 : run.name == DemoRun.fineTuned ? 2 : 4, run.name)
        }
        for name in [DemoRun.realOnly, DemoRun.syntheticOnly, DemoRun.fixedShare(35)] + [5, 10, 16, 35].map(DemoRun.mixed) {
            XCTAssertEqual(results.all(name).map(\.seed), [1, 2], name)
        }
        XCTAssertEqual(results.all(controls[0]).map(\.seed), [1, 2])
        XCTAssertEqual(results.all(controls[1]).map(\.seed), [1])
        // Table 2's mixes read one shuffled union; the fixed-share run two sources, half of every batch each.
        let metrics = try JSON.parse(try Files.read("\(out)/runs/mixed-35-s1/metrics.json"))
        XCTAssertEqual(metrics["training"]?["train"]?.arrayValue?.count, 1)
        let fixedShare = try JSON.parse(try Files.read("\(out)/runs/share-35-s1/metrics.json"))
        XCTAssertEqual(fixedShare["training"]?["shares"]?.arrayValue?.compactMap(\.doubleValue), [0.5, 0.5])
        let evaluation = try XCTUnwrap(metrics["evaluations"]?.arrayValue?.last?["result"])
        XCTAssertEqual(evaluation["images"]?.intValue, 4)
        XCTAssertEqual(evaluation["resolution"]?.arrayValue?.compactMap(\.intValue), [64, 32])
        XCTAssertTrue(try String(contentsOfFile: "\(out)/logs/train-pretrain-finetune-s1.log", encoding: .utf8)
            .contains("initialised from \(out)/runs/synthetic-only-s1/model.safetensors"))

        // report.json holds every run's numbers exactly as its metrics.json has them.
        let report = try JSON.parse(try Files.read("\(out)/report.json"))
        let reported = try XCTUnwrap(report["runs"]?.arrayValue)
        XCTAssertEqual(reported.count, 20)
        for run in reported {
            let name = try XCTUnwrap(run["name"]?.stringValue), seed = try XCTUnwrap(run["seed"]?.intValue)
            let own = try JSON.parse(try Files.read("\(out)/runs/\(name)-s\(seed)/metrics.json"))
            XCTAssertEqual(run["metrics"]?.stringValue, "\(out)/runs/\(name)-s\(seed)/metrics.json")
            XCTAssertEqual(run["steps"]?.intValue, own["steps"]?.arrayValue?.count, name)
            for set in ["real", "synthetic"] {
                let result = own["evaluations"]?.arrayValue?.last { $0["name"]?.stringValue == set }?["result"]
                XCTAssertEqual(run[set]?["ap"]?.doubleValue, result?["ap"]?.doubleValue, "\(name) \(set)")
                XCTAssertEqual(run[set]?["classes"]?["car"]?["ap50"]?.doubleValue, result?["classes"]?["car"]?["ap50"]?.doubleValue)
            }
        }
        let realOnly = reported.filter { $0["name"]?.stringValue == DemoRun.realOnly }.compactMap { $0["real"]?["ap"]?.doubleValue }
        XCTAssertEqual(realOnly.count, 2)
        let summary = try XCTUnwrap(report["configurations"]?[DemoRun.realOnly]?["real_ap"])
        XCTAssertEqual(try XCTUnwrap(summary["mean"]?.doubleValue), 100 * (realOnly[0] + realOnly[1]) / 2, accuracy: 1e-9)
        XCTAssertEqual(summary["min"]?.doubleValue, 100 * realOnly.min()!)
        XCTAssertEqual(report["table2"]?.arrayValue?.compactMap { $0["synthetic_images"]?.intValue }, [0, 5, 10, 16, 35])
        let mixedTrain = reported.first { $0["name"]?.stringValue == DemoRun.mixed(16) }?["train_images"]
        XCTAssertEqual([mixedTrain?["real"]?.intValue, mixedTrain?["synthetic"]?.intValue], [6, 16])
        // Every verdict is one of the outcomes, with the rule's inputs.
        let verdicts = try XCTUnwrap(report["verdicts"]?.arrayValue)
        XCTAssertEqual(verdicts.count, 11)
        for verdict in verdicts {
            XCTAssertTrue(["holds", "does not hold", "inconclusive", "inconclusive (not converged)"].contains(verdict["verdict"]?.stringValue ?? ""))
        }
        let spread = try XCTUnwrap(report["seed_spread"]?.doubleValue)
        // The seed spread pools every seeded configuration's variance of real val AP (their degrees of freedom as weights).
        guard case .object(let configurations)? = report["configurations"] else { return XCTFail("no configurations in report.json") }
        let seeded = configurations.compactMap { $0.1["real_ap"] }.filter { ($0["seeds"]?.intValue ?? 0) > 1 }
        let freedom = seeded.map { Double($0["seeds"]!.intValue! - 1) }.reduce(0, +)
        let pooled = (seeded.map { Double($0["seeds"]!.intValue! - 1) * pow($0["sd"]!.doubleValue!, 2) }.reduce(0, +) / freedom).squareRoot()
        XCTAssertEqual(seeded.count, 8)
        XCTAssertEqual(spread, pooled, accuracy: 1e-9)
        let equalSteps = verdicts[2]["inputs"]
        XCTAssertEqual(equalSteps?["seed spread"]?.doubleValue, spread)
        XCTAssertEqual(equalSteps?["real-only"]?.doubleValue, summary["mean"]?.doubleValue)

        // The trend rule's inputs are every mixed run's real val AP at its count, and its slope is theirs.
        func realAP(_ name: String, _ seed: Int, className: String? = nil, set: String = "real") throws -> Double {
            let own = try JSON.parse(try Files.read("\(out)/runs/\(name)-s\(seed)/metrics.json"))
            let result = own["evaluations"]?.arrayValue?.last { $0["name"]?.stringValue == set }?["result"]
            // A class without instances in a val set has no AP (null): NaN here, as in the report.
            return 100 * ((className.map { result?["classes"]?[$0]?["ap"] } ?? result?["ap"])?.doubleValue ?? .nan)
        }
        func assertSame(_ reported: JSON?, _ expected: Double, _ message: String) {
            if expected.isNaN { XCTAssertEqual(reported?.compact, "null", message) }
            else { XCTAssertEqual(reported?.doubleValue ?? .nan, expected, accuracy: 1e-9, message) }
        }
        // Real-only's convergence: the mean over the control's seeds of its gain against the run of the same seed.
        let gains = try [1, 2].map { try realAP(controls[0], $0) - realAP(DemoRun.realOnly, $0) }
        let convergence = try XCTUnwrap(verdicts.first { $0["claim"]?.stringValue?.hasPrefix("\(DemoRun.realOnly) has converged") ?? false })
        XCTAssertEqual(try XCTUnwrap(convergence["inputs"]?["gain"]?.doubleValue), (gains[0] + gains[1]) / 2, accuracy: 1e-9)
        XCTAssertEqual(convergence["inputs"]?["seeds"]?.doubleValue, 2)
        XCTAssertEqual(convergence["inputs"]?["tolerance"]?.doubleValue, max(1, spread))
        XCTAssertEqual(convergence["verdict"]?.stringValue, (gains[0] + gains[1]) / 2 < max(1, spread) ? "holds" : "does not hold")
        var points: [(x: Double, y: Double)] = []
        for count in [5, 10, 16, 35] { for seed in [1, 2] { points.append((log2(Double(count)), try realAP(DemoRun.mixed(count), seed))) } }
        let trend = try XCTUnwrap(report["trend"])
        XCTAssertEqual(trend["runs"]?.arrayValue?.compactMap { $0["real_ap"]?.doubleValue }.sorted(), points.map(\.y).sorted())
        let mx = points.map(\.x).reduce(0, +) / 8, my = points.map(\.y).reduce(0, +) / 8
        let slope = points.map { ($0.x - mx) * ($0.y - my) }.reduce(0, +) / points.map { ($0.x - mx) * ($0.x - mx) }.reduce(0, +)
        XCTAssertEqual(try XCTUnwrap(trend["slope_per_doubling"]?.doubleValue), slope, accuracy: 1e-9)
        let interval = try XCTUnwrap(trend["interval"]?.arrayValue?.compactMap(\.doubleValue))
        XCTAssertEqual(interval.count, 2)
        XCTAssertLessThanOrEqual(interval[0], interval[1])
        XCTAssertEqual(verdicts[3]["inputs"]?["slope"]?.doubleValue, trend["slope_per_doubling"]?.doubleValue)
        // The transfer table: synthetic-only's class AP on each val set and real-only's, seed means of their metrics.json.
        let transfer = try XCTUnwrap(report["transfer"]?.arrayValue)
        XCTAssertEqual(transfer.compactMap { $0["class"]?.stringValue }, ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])
        for row in transfer {
            let name = try XCTUnwrap(row["class"]?.stringValue)
            let onReal = (try realAP(DemoRun.syntheticOnly, 1, className: name) + realAP(DemoRun.syntheticOnly, 2, className: name)) / 2
            let onSynthetic = (try realAP(DemoRun.syntheticOnly, 1, className: name, set: "synthetic")
                               + realAP(DemoRun.syntheticOnly, 2, className: name, set: "synthetic")) / 2
            let realTrained = (try realAP(DemoRun.realOnly, 1, className: name) + realAP(DemoRun.realOnly, 2, className: name)) / 2
            assertSame(row["synthetic_only_on_real"], onReal, name)
            assertSame(row["synthetic_only_on_synthetic"], onSynthetic, name)
            assertSame(row["real_only_on_real"], realTrained, name)
            assertSame(row["share_of_in_domain"], onSynthetic > 0 ? onReal / onSynthetic : .nan, name)
        }
        // Coverage: nested subsets show at least as many of the world's combinations, as often, as the smaller ones.
        let rows = try XCTUnwrap(report["coverage"]?["per_count"]?.arrayValue)
        let coverage = rows.compactMap { $0["combinations"]?.intValue }, median = rows.compactMap { $0["median_objects"]?.intValue }
        XCTAssertEqual(rows.compactMap { $0["synthetic_images"]?.intValue }, [5, 10, 16, 35])
        XCTAssertEqual(coverage, coverage.sorted())
        XCTAssertEqual(median, median.sorted())
        XCTAssertGreaterThan(coverage[0], 0)
        XCTAssertLessThanOrEqual(coverage[3], try XCTUnwrap(report["coverage"]?["combinations"]?.intValue))

        // The Markdown report quotes the same numbers; the plots are drawn.
        let markdown = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        let cell = String(format: "%.1f (%.1f–%.1f, 2 seeds)", 100 * (realOnly[0] + realOnly[1]) / 2, 100 * realOnly.min()!, 100 * realOnly.max()!)
        XCTAssertTrue(markdown.contains("| real (6 images) | \(cell) |"), markdown)
        let html = try String(contentsOfFile: "\(out)/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<img src=\"table2.png\""))
        XCTAssertTrue(html.contains("<td>real (6 images)</td>"), html)   // GFM tables rendered, not left as text
        XCTAssertFalse(html.contains("| real (6 images) |"), html)
        let plot = try PNGCodec.header(of: try Files.read("\(out)/table2.png"), path: "table2.png")
        XCTAssertEqual([plot.width, plot.height], [760, 460])
        let perClass = try PNGCodec.header(of: try Files.read("\(out)/per-class.png"), path: "per-class.png")
        XCTAssertEqual([perClass.width, perClass.height], [720, 400])
    }

    func testAnExperimentThatStopsEarlyReportsWhatIsMissingAndARerunKeepsWhatFinished() throws {
        let bin = "\(repositoryRoot)/.build/debug"
        let out = try temporaryFolder()
        var settings = DemoSettings(preset: .tiny, out: out, bin: bin, mappings: mappingsFolder)
        settings.only = [DemoRun.realOnly, DemoRun.mixed(35)]
        let runner = DemoRunner(settings: settings, log: { _ in })
        try Files.createDirectory("\(out)/logs")
        try runner.checkPlan()
        try runner.generate()
        try runner.prepare()
        // The largest mix's synthetic shard disappears after packing: its runs fail, real-only's finish.
        let shard = "\(out)/shards/mix-35/mix-000000.tar"
        try FileManager.default.moveItem(atPath: shard, toPath: shard + ".away")
        XCTAssertThrowsError(try runner.run())
        let markdown = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("**Stopped early: 2 of 4 runs missing** (mixed-35-s1, mixed-35-s2): rerun the same command to continue"),
                      markdown)
        let report = try JSON.parse(try Files.read("\(out)/report.json"))
        XCTAssertEqual(report["missing_runs"]?.arrayValue?.compactMap(\.stringValue), ["mixed-35-s1", "mixed-35-s2"])
        XCTAssertEqual(report["runs"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, [DemoRun.realOnly, DemoRun.realOnly])
        // Back in place, a rerun trains only the missing runs and the report is whole.
        try FileManager.default.moveItem(atPath: shard + ".away", toPath: shard)
        let lines = Mutex<[String]>([])
        let results = try DemoRunner(settings: settings, log: { line in lines.withLock { $0.append(line) } }).run()
        XCTAssertEqual(results.runs.count, 4)
        XCTAssertTrue(results.missing.isEmpty)
        let kept = lines.withLock { $0.filter { $0.contains("finished earlier") } }
        XCTAssertEqual(kept.count, 2, "\(kept)")
        XCTAssertFalse(try String(contentsOfFile: "\(out)/report.md", encoding: .utf8).contains("Stopped early"))
    }

    func testOnlyNamesThatThePlanDoesNotHaveAreRefusedBeforeAnythingRuns() throws {
        let out = try temporaryFolder()
        var settings = DemoSettings(preset: .tiny, out: out, bin: "\(repositoryRoot)/.build/debug", mappings: mappingsFolder)
        settings.only = [DemoRun.realOnly, "bogus", DemoRun.mixed(576)]
        XCTAssertThrowsError(try DemoRunner(settings: settings, log: { _ in }).run()) { error in
            XCTAssertTrue("\(error)".hasPrefix("--only names bogus, mixed-576, which this plan does not have; it has real-only-2x, mixed-35-2x, "),
                          "\(error)")
        }
        XCTAssertEqual(Files.list(out), [])
    }

    func testMarkdownBecomesHTMLWithTablesAndEmphasis() {
        let html = Markdown.html("# Title\n\n*slanted* and **bold** `code`\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n")
        XCTAssertEqual(html, """
            <h1>Title</h1>
            <p><em>slanted</em> and <strong>bold</strong> <code>code</code></p>
            <table>
            <thead>
            <tr>
            <th>a</th>
            <th align="right">b</th>
            </tr>
            </thead>
            <tbody>
            <tr>
            <td>1</td>
            <td align="right">2</td>
            </tr>
            </tbody>
            </table>

            """)
        XCTAssertEqual(Markdown.html(""), "")
    }
}
