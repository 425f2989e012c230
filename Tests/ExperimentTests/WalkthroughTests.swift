import Foundation
import SynmixCore
import TestSupport
import TrainShards
import XCTest
import SynmixFormats

/// A folder with the stage executables of this build; training through the release trainer `make test` builds.
func stageToolsFolder() throws -> String {
    let bin = try temporaryFolder("tools")
    for name in ["synmix-generate", "harmonize", "filter-instances", "pack-mix"] {
        let path = try XCTUnwrap(builtExecutable(name), "\(name) is not built")
        try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(name)", withDestinationPath: path)
    }
    let trainer = "\(repositoryRoot)/.build/release/train-shards"
    XCTAssertTrue(FileManager.default.isExecutableFile(atPath: trainer), "run `make test`: it builds the release trainer")
    try FileManager.default.createSymbolicLink(atPath: "\(bin)/train-shards", withDestinationPath: trainer)
    return bin
}

/// The README's walk-through (examples/walkthrough.sh) runs as written, and leaves the outputs it promises.
final class WalkthroughTests: XCTestCase {
    func testTheReadmeWalkthroughRunsOnGeneratedData() throws {
        let bin = try stageToolsFolder()
        let work = try temporaryFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["BIN=\(bin)", "bash", "\(repositoryRoot)/examples/walkthrough.sh", work]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)

        XCTAssertEqual(try readManifest("\(work)/cityscapes").filter { $0.split == .val }.count, 6)
        XCTAssertEqual(Files.list("\(work)/synscapes-filtered/previews").count, 2)
        XCTAssertEqual(try ShardIndex.read(folder: "\(work)/mix").samples, 24)
        XCTAssertEqual(try TrainingMetrics.read(folder: "\(work)/run").steps.count, 40)
        XCTAssertEqual(Files.list("\(work)/evaluation/overlays").count, 2)
        XCTAssertEqual(Files.list("\(work)/predictions").filter { $0.hasSuffix("_pred.txt") }.count, 6)
        XCTAssertTrue(Files.exists("\(work)/coco/instances.json"))
        try checkFormatsDocumentCovers(work)
    }

    /// docs/formats.md names every file and key the walkthrough wrote.
    func checkFormatsDocumentCovers(_ work: String) throws {
        let classes = Set(try XCTUnwrap(try ShardIndex.read(folder: "\(work)/mix").taxonomy).classes.map(\.name))
        let (names, keys, problems) = try FormatsDocument.gaps(in: work, dataNames: classes) { $0.hasPrefix("data/") }
        XCTAssertEqual(problems, [])
        XCTAssertTrue(names.isSuperset(of: ["manifest.jsonl", "summary.json", "thresholds.yaml", "report.json", "index.json",
                                            "mix-NNNNNN.tar", "metrics.json", "model.safetensors", "instances.json"]), "\(names)")
        XCTAssertGreaterThan(keys, 100)
    }

    /// `make install` puts the tools in PREFIX/bin and the mappings in PREFIX/share/synmix; called by bare name
    /// through PATH from another folder (argv[0] is then just the name), they find their mappings and run the walkthrough.
    func testInstalledToolsRunTheWalkthroughByBareNameFromAnotherFolder() throws {
        let bin = try stageToolsFolder(), prefix = try temporaryFolder()
        let install = Process()
        install.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        install.arguments = ["make", "-s", "-C", repositoryRoot, "install-files", "PREFIX=\(prefix)", "BIN=\(bin)",
                             "TOOLS=synmix-generate harmonize filter-instances pack-mix train-shards"]
        try install.run()
        install.waitUntilExit()
        XCTAssertEqual(install.terminationStatus, 0)
        XCTAssertTrue(Files.exists("\(prefix)/share/synmix/mappings/taxonomy.yaml"))
        XCTAssertFalse(try FileManager.default.attributesOfItem(atPath: "\(prefix)/bin/harmonize")[.type] as? FileAttributeType == .typeSymbolicLink)

        // The walkthrough with every "$BIN/tool" as a bare "tool", from a folder outside the repository.
        let script = try String(contentsOfFile: "\(repositoryRoot)/examples/walkthrough.sh", encoding: .utf8)
            .replacingOccurrences(of: "\"$BIN/", with: "\"")
        let work = try temporaryFolder()
        try Files.writeAtomically(script, to: "\(work)/walkthrough.sh")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "\(prefix)/bin:" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["SYNMIX_MAPPINGS"] = nil
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        process.arguments = ["bash", "walkthrough.sh", "out"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual(try ShardIndex.read(folder: "\(work)/out/mix").samples, 24)
        XCTAssertEqual(try TrainingMetrics.read(folder: "\(work)/out/run").steps.count, 40)
    }
}
