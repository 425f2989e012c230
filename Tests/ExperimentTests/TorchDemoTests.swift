import Foundation
import XCTest
@testable import Experiment
import SynmixCore
import TestSupport

/// The experiment with the seed's detector (`--engine torch --model pointrend`, ResNet-18 on the CPU): the whole
/// tiny plan on datasets a user gives (generated in the original layouts by synmix-generate), killed half-way and
/// continued. The generated benchmark's own data path (`generate`) is DemoChainTests'; the plan and the report do
/// not depend on where the data came from.
final class TorchDemoTests: XCTestCase {
    let bin = "\(repositoryRoot)/.build/debug"

    func requirePython() throws -> String {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        guard FileManager.default.isExecutableFile(atPath: "\(bin)/synmix-demo") else {
            throw XCTSkip("the stage executables are not built in \(bin): run `swift build --build-tests`")
        }
        return python
    }

    /// report.json quotes every run's own metrics.json: steps, and AP on both val sets.
    func assertReportQuotesTheRuns(_ out: String, runs: Int, file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        let report = try JSON.parse(try Files.read("\(out)/report.json"))
        XCTAssertEqual(report["engine"]?.stringValue, "torch", file: file, line: line)
        XCTAssertEqual(report["model"]?.stringValue, "pointrend", file: file, line: line)
        let reported = try XCTUnwrap(report["runs"]?.arrayValue)
        XCTAssertEqual(reported.count, runs, file: file, line: line)
        for run in reported {
            let name = try XCTUnwrap(run["name"]?.stringValue), seed = try XCTUnwrap(run["seed"]?.intValue)
            let own = try JSON.parse(try Files.read("\(out)/runs/\(name)-s\(seed)/metrics.json"))
            XCTAssertEqual(own["training"]?["trainer"]?.stringValue, "synmix_torch", file: file, line: line)
            XCTAssertEqual(own["model"]?["model"]?.stringValue, "pointrend", file: file, line: line)
            XCTAssertEqual(run["steps"]?.intValue, own["steps"]?.arrayValue?.count, name, file: file, line: line)
            for set in ["real", "synthetic"] {
                let result = own["evaluations"]?.arrayValue?.last { $0["name"]?.stringValue == set }?["result"]
                XCTAssertNotNil(result?["ap"]?.doubleValue, "\(name) \(set)", file: file, line: line)
                XCTAssertEqual(run[set]?["ap"]?.doubleValue, result?["ap"]?.doubleValue, "\(name) \(set)", file: file, line: line)
                XCTAssertEqual(run[set]?["classes"]?["car"]?["ap50"]?.doubleValue, result?["classes"]?["car"]?["ap50"]?.doubleValue,
                               file: file, line: line)
            }
        }
        return report
    }

    /// Every process below `pid`, from /proc (what a kill must reach: the demo's trainers).
    func descendants(of pid: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for entry in Files.list("/proc") {
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(child) }
        }
        var found: [Int32] = [], frontier = [pid]
        while !frontier.isEmpty {
            frontier = frontier.flatMap { children[$0] ?? [] }
            found += frontier
        }
        return found
    }

    func startDemo(_ arguments: [String], log: String) throws -> Process {
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(bin)/synmix-demo")
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    func testTheExperimentOnUserDatasetsContinuesAfterAKillWithoutRetrainingFinishedRuns() throws {
        let python = try requirePython()
        let folder = try temporaryFolder()
        // The user's datasets: a Cityscapes root with train and val, a Synscapes root (its last 10 % held out as val).
        for arguments in [["cityscapes", "--out", "\(folder)/cityscapes", "--count", "6", "--split", "train"],
                          ["cityscapes", "--out", "\(folder)/cityscapes", "--count", "4", "--split", "val", "--city", "valcity", "--seed", "2"],
                          ["synscapes", "--out", "\(folder)/synscapes", "--count", "40"]] {
            let made = try runProgramCapturingErrors("\(bin)/synmix-generate", arguments + ["--width", "128", "--height", "64"])
            XCTAssertEqual(made.status, 0, made.errors)
        }
        let out = "\(folder)/experiment"
        let arguments = ["--cityscapes", "\(folder)/cityscapes", "--synscapes", "\(folder)/synscapes", "--synthetic-val-fraction", "0.1",
                         "--preset", "tiny", "--seeds", "1", "--engine", "torch", "--backbone", "resnet18", "--python", python, "--out", out]
        // Killed once three runs have finished.
        let first = try startDemo(arguments, log: "\(folder)/first.log")
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline, first.isRunning,
              !((try? String(contentsOfFile: "\(folder)/first.log", encoding: .utf8)) ?? "").contains("[plan] 3/") {
            usleep(100_000)
        }
        XCTAssertTrue(first.isRunning, (try? String(contentsOfFile: "\(folder)/first.log", encoding: .utf8)) ?? "")
        for pid in [first.processIdentifier] + descendants(of: first.processIdentifier) { kill(pid, SIGKILL) }
        first.waitUntilExit()
        let firstLog = try String(contentsOfFile: "\(folder)/first.log", encoding: .utf8)
        XCTAssertTrue(firstLog.contains("your datasets: real 6 train + 4 val, synthetic 36 train + 4 val"), firstLog)
        let finished = firstLog.split(separator: "\n").filter { $0.contains(" done in ") }
            .compactMap { $0.split(separator: " ").dropFirst(3).first.map(String.init) }
        XCTAssertGreaterThanOrEqual(finished.count, 3, firstLog)
        XCTAssertFalse(Files.exists("\(out)/report.json"))
        let modified = try finished.map { try FileManager.default.attributesOfItem(atPath: "\(out)/runs/\($0)/metrics.json")[.modificationDate] as? Date }

        // The rerun keeps every finished stage and run and trains the rest.
        let second = try runProgramCapturingErrors("\(bin)/synmix-demo", arguments)
        XCTAssertEqual(second.status, 0, second.errors)
        for name in finished { XCTAssertTrue(second.output.contains("[train] \(name): finished earlier"), second.output) }
        XCTAssertEqual(try finished.map { try FileManager.default.attributesOfItem(atPath: "\(out)/runs/\($0)/metrics.json")[.modificationDate] as? Date },
                       modified)
        let report = try assertReportQuotesTheRuns(out, runs: 12)
        let controls = [DemoRun.control(DemoRun.realOnly), DemoRun.control(DemoRun.mixed(35))]
        for run in report["runs"]?.arrayValue ?? [] {   // equal steps but for the 2× controls and the fine-tuning
            let name = run["name"]?.stringValue ?? ""
            XCTAssertEqual(run["steps"]?.intValue, controls.contains(name) ? 8 : name == DemoRun.fineTuned ? 2 : 4, name)
        }
        // The fixed-share run takes exactly half of every batch from each source; fine-tuning starts from the synthetic-only detector.
        let fixedShare = try JSON.parse(try Files.read("\(out)/runs/share-35-s1/metrics.json"))
        XCTAssertEqual(fixedShare["training"]?["share"]?.arrayValue?.compactMap(\.intValue), [1, 1])
        XCTAssertTrue(try String(contentsOfFile: "\(out)/logs/train-pretrain-finetune-s1.log", encoding: .utf8)
            .contains("initialised from \(out)/runs/synthetic-only-s1/model.safetensors"))
        let markdown = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("Engine `torch` (pointrend, resnet18-FPN), 12 runs"), markdown)
        XCTAssertTrue(markdown.contains("`synmix_torch.train --model pointrend --backbone resnet18` from scratch"), markdown)
        XCTAssertEqual(report["settings"]?["real_train"]?.intValue, 6)
        XCTAssertEqual(report["settings"]?["synthetic_train"]?.intValue, 36)
        XCTAssertTrue(markdown.contains("Data: your datasets — Cityscapes at `\(folder)/cityscapes`"), markdown)

        // A run trained again gives the same numbers: a rerun after losing one run writes the same report.
        try FileManager.default.removeItem(atPath: "\(out)/runs/\(finished[0])")
        let third = try runProgramCapturingErrors("\(bin)/synmix-demo", arguments)
        XCTAssertEqual(third.status, 0, third.errors)
        XCTAssertEqual(third.output.components(separatedBy: "finished earlier").count - 1, 11, third.output)
        let again = try JSON.parse(try Files.read("\(out)/report.json"))
        for key in ["configurations", "table2", "verdicts", "seed_spread"] {   // every AP and verdict; only timings differ
            XCTAssertEqual(again[key]?.compact, report[key]?.compact, key)
        }

        // Another experiment into the same folder is refused, naming the difference.
        let other = try runProgramCapturingErrors("\(bin)/synmix-demo", arguments + ["--seed", "7"])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.errors.contains("holds another experiment: seed (1 there, 7 now)"), other.errors)
    }
}
