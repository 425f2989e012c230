import Foundation
import XCTest
@testable import Network
@testable import ShardData
@testable import TrainShards
import SynmixCore
import TestSupport

/// `train-shards evaluate` and `fit` on hostile shard samples: a key that repeats. Built from the first fixture shard (3 samples at 256×128).
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
}
