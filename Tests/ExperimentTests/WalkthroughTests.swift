import Foundation
import SynmixCore
import TestSupport
import TrainShards
import XCTest

/// The README's walk-through (examples/walkthrough.sh) runs as written, and leaves the outputs it promises.
final class WalkthroughTests: XCTestCase {
    func testTheReadmeWalkthroughRunsOnGeneratedData() throws {
        // The stage executables of this build; training through the release trainer `make test` builds.
        let bin = try temporaryFolder()
        for name in ["synmix-generate", "harmonize", "filter-instances", "pack-mix"] {
            let path = try XCTUnwrap(builtExecutable(name), "\(name) is not built")
            try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(name)", withDestinationPath: path)
        }
        let trainer = "\(repositoryRoot)/.build/release/train-shards"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: trainer), "run `make test`: it builds the release trainer")
        try FileManager.default.createSymbolicLink(atPath: "\(bin)/train-shards", withDestinationPath: trainer)

        let work = try temporaryFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["BIN=\(bin)", "bash", "\(repositoryRoot)/examples/walkthrough.sh", work]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)

        XCTAssertEqual(try readManifest("\(work)/cityscapes").filter { $0.split == "val" }.count, 6)
        XCTAssertEqual(Files.list("\(work)/synscapes-filtered/previews").count, 2)
        XCTAssertEqual(try ShardIndex.read(folder: "\(work)/mix").samples, 24)
        XCTAssertEqual(try TrainingMetrics.read(folder: "\(work)/run").steps.count, 40)
        XCTAssertEqual(Files.list("\(work)/evaluation/overlays").count, 2)
        XCTAssertEqual(Files.list("\(work)/predictions").filter { $0.hasSuffix("_pred.txt") }.count, 6)
        XCTAssertTrue(Files.exists("\(work)/coco/instances.json"))
    }
}
