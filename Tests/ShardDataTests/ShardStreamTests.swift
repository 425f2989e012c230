import Foundation
import XCTest
@testable import ShardData
import SynmixCore
import TestSupport
import SynmixFormats

final class ShardStreamTests: XCTestCase {
    /// Three shards of four samples each, `s0-000` … `s2-003`.
    func writeShards() throws -> String {
        let folder = try temporaryFolder()
        for shard in 0..<3 {
            var bytes: [UInt8] = []
            for sample in 0..<4 {
                let key = "s\(shard)-00\(sample)"
                bytes += Tar.member(name: "\(key).json", data: Array(#"{"key":"\#(key)"}"#.utf8))
                bytes += Tar.member(name: "\(key).png", data: [UInt8(shard), UInt8(sample)])
            }
            bytes += Tar.trailer(after: bytes.count)
            try Files.writeAtomically(bytes, to: "\(folder)/mix-00000\(shard).tar")
        }
        return folder
    }

    func keys(_ stream: ShardStream, epoch: Int) throws -> [String] {
        var keys: [String] = []
        try stream.forEach(epoch: epoch) { keys.append($0.key); return true }
        return keys
    }

    func testBraceRangesAndGlobsExpandInOrder() throws {
        let folder = try writeShards()
        XCTAssertEqual(try ShardList.expand("\(folder)/mix-{000000..000002}.tar"),
                       (0..<3).map { "\(folder)/mix-00000\($0).tar" })
        XCTAssertEqual(try ShardList.expand("\(folder)/mix-*.tar"), (0..<3).map { "\(folder)/mix-00000\($0).tar" })
        XCTAssertThrowsError(try ShardList.expand("\(folder)/none-*.tar"))
        XCTAssertThrowsError(try ShardList.expand("\(folder)/mix-{3..1}.tar"))
    }

    func testEveryEpochVisitsEverySampleOnceInASeededOrder() throws {
        let folder = try writeShards()
        let stream = ShardStream(shards: try ShardList.expand("\(folder)/mix-*.tar"), bufferSize: 5, seed: 3)
        let first = try keys(stream, epoch: 0), again = try keys(stream, epoch: 0), second = try keys(stream, epoch: 1)
        XCTAssertEqual(first.count, 12)
        XCTAssertEqual(Set(first).count, 12)
        XCTAssertEqual(first, again)          // same seed and epoch: same order
        XCTAssertNotEqual(first, second)      // a new epoch: a new order
        XCTAssertEqual(Set(first), Set(second))
        XCTAssertNotEqual(first, first.sorted())
        var images: [[UInt8]] = []
        try stream.forEach(epoch: 0) { images.append($0.image); return images.count < 3 }   // stops early on request
        XCTAssertEqual(images.count, 3)
    }

    func testABufferOfOneKeepsTheShardOrderWithinEachShard() throws {
        let folder = try writeShards()
        let stream = ShardStream(shards: try ShardList.expand("\(folder)/mix-*.tar"), bufferSize: 1, seed: 3)
        let order = try keys(stream, epoch: 0)
        for shard in 0..<3 {
            let inShard = order.filter { $0.hasPrefix("s\(shard)-") }
            XCTAssertEqual(inShard, inShard.sorted())   // memory bounded by the buffer: no reordering beyond it
        }
    }

    func testATruncatedShardYieldsTheSamplesBeforeTheDamageAndReportsItsOffset() throws {
        let folder = try writeShards()
        let path = "\(folder)/mix-000001.tar"
        let bytes = try Files.read(path)
        // Keep two whole samples (4 members of 1 024 bytes each) and half of the fifth member's header.
        try Files.writeAtomically(Array(bytes.prefix(4 * 1024 + 256)), to: path)
        var reports: [String] = []
        var keys: [String] = []
        try ShardStream(shards: [path], bufferSize: 1, seed: 0, shuffle: false).forEach(epoch: 0, report: { reports.append("\($0)") }) {
            keys.append($0.key)
            return true
        }
        XCTAssertEqual(keys, ["s1-000", "s1-001"])
        XCTAssertEqual(reports, ["\(path): at byte 4096: archive ends without its two zero blocks (truncated); the samples before it are used"])
    }

    func testASecondSampleUnderAnEarlierKeyIsReportedNotMergedIntoTheFirst() throws {
        let folder = try temporaryFolder()
        var bytes: [UInt8] = []
        for (key, payload) in [("a", 1), ("a", 2), ("b", 3), ("a", 4)] {
            bytes += Tar.member(name: "\(key).json", data: Array(#"{"key":"\#(key)"}"#.utf8))
            bytes += Tar.member(name: "\(key).png", data: [UInt8(payload)])
        }
        bytes += Tar.trailer(after: bytes.count)
        let path = "\(folder)/mix-000000.tar"
        try Files.writeAtomically(bytes, to: path)
        var reports: [String] = []
        var samples: [(String, [UInt8])] = []
        try ShardStream(shards: [path], bufferSize: 1, seed: 0, shuffle: false).forEach(epoch: 0, report: { reports.append("\($0)") }) {
            samples.append(($0.key, $0.image))
            return true
        }
        XCTAssertEqual(samples.map(\.0), ["a", "b"])
        XCTAssertEqual(samples.map(\.1), [[1], [3]])
        XCTAssertEqual(reports, ["\(path): sample a at byte 2048 repeats an earlier sample's key; skipped",
                                 "\(path): sample a at byte 6144 repeats an earlier sample's key; skipped"])
    }
}
