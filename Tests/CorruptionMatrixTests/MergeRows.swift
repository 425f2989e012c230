import Foundation
@testable import Harmonize
@testable import PackMix
import SynmixCore
import TestSupport
import XCTest

/// `pack-mix merge` on hostile part indexes and shards: every case is an error naming the file and the
/// reason (never a trap), and nothing is merged: no index.json, the parts left as they were.
final class MergeCorruptionTests: XCTestCase {
    static let manifest: String = {
        let out = try! temporaryFolder("merge-manifest")
        var harmonize = HarmonizeOptions(dataset: .cityscapes, root: "\(fixturesFolder)/cityscapes", out: out,
                                         mappingPath: "\(mappingsFolder)/cityscapes.yaml", taxonomyPath: taxonomyPath)
        harmonize.split = .all
        _ = try! Harmonizer.run(harmonize)
        return out
    }()

    /// The parts 1/N … N/N of a 6-sample mix written into a new folder (one sample per shard).
    func parts(_ count: Int, seed: UInt64 = 1, only: [Int]? = nil) throws -> String {
        let out = try temporaryFolder()
        for index in only ?? Array(1...count) {
            var options = PackOptions(inputs: [PackInput(name: "real", manifest: Self.manifest)], out: out)
            options.split = .all
            options.shardSamples = 1
            options.seed = seed
            options.partition = Partition("\(index)/\(count)")
            _ = try Packer.run(options)
        }
        return out
    }

    /// Rewrites a part index's JSON text (and, with `rehash`, its plan_sha256 to match its edited plan).
    func editPart(_ path: String, rehash: Bool = false, _ edit: (String) -> String) throws {
        var text = edit(try JSON.parse(try Files.read(path)).compact)   // compact, so that the edits can match "key":value
        if rehash, let value = try? JSON.parse(Array(text.utf8)), let plan = value["plan"], let old = value["plan_sha256"]?.stringValue {
            text = text.replacingOccurrences(of: old, with: SHA256Hasher.hex(Array(plan.compact.utf8)))
        }
        try Files.writeAtomically(text, to: path)
    }

    func testEveryHostilePartOrShardIsANamedErrorAndNothingIsMerged() throws {
        let clean = try parts(2)
        XCTAssertEqual(try Packer.merge(out: try copy(clean)).samples, 6)
        let part1 = "index.part-1-of-2.json", part2 = "index.part-2-of-2.json"
        let foreignPlan = try parts(2, seed: 9, only: [2])
        let otherN = try parts(3, only: [2])
        func firstShard(_ text: String) -> String { text.replacingOccurrences(of: "\"name\":\"mix-000000.tar\"", with: "\"name\":\"X\"") }
        let cases: [(String, (String) throws -> Void, String, String)] = [
            ("a part count negative", { try self.editPart("\($0)/\(part1)") { $0.replacingOccurrences(of: "\"part\":[1,2]", with: "\"part\":[1,-2]") } },
             part1, "not a pack-mix part index"),
            ("a part count past Int", { try self.editPart("\($0)/\(part1)") {
                $0.replacingOccurrences(of: "\"part\":[1,2]", with: "\"part\":[1,99999999999999999999]") } }, part1, "not a pack-mix part index"),
            ("a part index truncated", { out in
                let bytes = try Files.read("\(out)/\(part1)")
                try Files.writeAtomically(Array(bytes.prefix(bytes.count / 2)), to: "\(out)/\(part1)")
            }, part1, "not valid JSON"),
            ("a part missing", { unlink("\($0)/\(part2)") }, part2, "partition 2/2 is missing"),
            ("a part duplicated under another's name", { out in
                try Files.writeAtomically(try Files.read("\(out)/\(part1)"), to: "\(out)/\(part2)")
            }, part2, "it says it is part 1/2"),
            ("a part of another plan", { out in
                try Files.writeAtomically(try Files.read("\(foreignPlan)/\(part2)"), to: "\(out)/\(part2)")
            }, part2, "another plan than"),
            ("a part of another N", { out in
                try Files.writeAtomically(try Files.read("\(otherN)/index.part-2-of-3.json"), to: "\(out)/index.part-2-of-3.json")
            }, "index.part-2-of-3.json", "parts of different runs"),
            ("a plan edited without its hash", { try self.editPart("\($0)/\(part1)") { $0.replacingOccurrences(of: "\"seed\":1", with: "\"seed\":2") } },
             part1, "does not hash to its plan_sha256"),
            ("counts per domain overflowing", { out in
                for part in [part1, part2] {
                    try self.editPart("\(out)/\(part)", rehash: true) {
                        $0.replacingOccurrences(of: "\"counts_per_domain\":{\"real\":6}", with: "\"counts_per_domain\":{\"a\":9223372036854775807,\"real\":6}")
                    }
                }
            }, part1, "add up to more than an integer holds"),
            ("a shard's sample count negative", { try self.editPart("\($0)/\(part1)") {
                $0.replacingOccurrences(of: "\"name\":\"mix-000000.tar\",\"samples\":1", with: "\"name\":\"mix-000000.tar\",\"samples\":-1") } },
             part1, "negative count"),
            ("a shard's sample count raised", { try self.editPart("\($0)/\(part1)") {
                $0.replacingOccurrences(of: "\"name\":\"mix-000000.tar\",\"samples\":1", with: "\"name\":\"mix-000000.tar\",\"samples\":2") } },
             "mix-000000.tar", "recorded 2"),
            ("a shard's hash edited", { out in
                let value = try JSON.parse(try Files.read("\(out)/\(part1)"))
                let hash = try XCTUnwrap(value["shards"]?.arrayValue?.first?["sha256"]?.stringValue)
                try self.editPart("\(out)/\(part1)") { $0.replacingOccurrences(of: hash, with: String(repeating: "0", count: 64)) }
            }, "mix-000000.tar", "SHA-256 differs"),
            ("a shard named ../", { try self.editPart("\($0)/\(part1)") { $0.replacingOccurrences(of: "\"name\":\"mix-000000.tar\"", with: "\"name\":\"../mix-000000.tar\"") } },
             part1, "shard '../mix-000000.tar' is not one of partition 1/2's shards"),
            ("a shard named by an absolute path", { try self.editPart("\($0)/\(part1)") { firstShard($0).replacingOccurrences(of: "\"X\"", with: "\"/etc/passwd\"") } },
             part1, "shard '/etc/passwd' is not one of"),
            ("another part's shard listed", { try self.editPart("\($0)/\(part1)") { $0.replacingOccurrences(of: "\"name\":\"mix-000000.tar\"", with: "\"name\":\"mix-000001.tar\"") } },
             part1, "is not one of partition 1/2's shards"),
            ("a shard truncated after its part was written", { out in
                let bytes = try Files.read("\(out)/mix-000002.tar")
                try Files.writeAtomically(Array(bytes.prefix(bytes.count - 1024)), to: "\(out)/mix-000002.tar")
            }, "mix-000002.tar", "recorded"),
            ("a shard replaced by another", { out in
                try Files.writeAtomically(try Files.read("\(out)/mix-000004.tar"), to: "\(out)/mix-000002.tar")
            }, "mix-000002.tar", "replaced?"),
            ("--out an input's folder", { out in
                for part in [part1, part2] {
                    try self.editPart("\(out)/\(part)", rehash: true) { $0.replacingOccurrences(of: Self.manifest, with: out) }
                }
            }, "", "the output folder is the input's folder"),
        ]
        for (name, damage, file, reason) in cases {
            let out = try copy(clean)
            try damage(out)
            let before = Files.list(out)
            XCTAssertThrowsError(try Packer.merge(out: out), name) { error in
                XCTAssertTrue("\(error)".contains("\(out)/\(file)"), "\(name): \(error)")
                XCTAssertTrue("\(error)".contains(reason), "\(name): \(error)")
            }
            XCTAssertEqual(Files.list(out), before, name)
            XCTAssertFalse(Files.exists("\(out)/index.json"), name)
        }
        XCTAssertEqual(cases.count, 18)
    }

    /// pack-mix verify names every member that is not a regular file (here a symbolic link).
    func testVerifyReportsASymbolicLinkMemberAsAProblem() throws {
        let out = try parts(1)
        _ = try Packer.merge(out: out)
        XCTAssertEqual(try Verifier.verify(out).problems, [])
        let shard = "\(out)/mix-000000.tar"
        let members = try Tar.read(try Files.read(shard))
        var link = Tar.member(name: "evil.json", data: [])
        link[156] = UInt8(ascii: "2")   // typeflag: symbolic link
        let sum = link[0..<512].enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
        for (k, byte) in Array(String(format: "%06o\0 ", sum).utf8).enumerated() { link[148 + k] = byte }
        let bytes = members.flatMap { Tar.member(name: $0.name, data: Array($0.data)) } + link
        try Files.writeAtomically(bytes + Tar.trailer(after: bytes.count), to: shard)
        let problems = try Verifier.verify(out).problems
        XCTAssertTrue(problems.contains { $0.shard == "mix-000000.tar" && $0.reason.contains("member 'evil.json' at byte") && $0.reason.contains("is not a regular file (type '2'") },
                      "\(problems)")
    }

    func copy(_ folder: String) throws -> String {
        let out = try temporaryFolder()
        for name in Files.list(folder) { try FileManager.default.copyItem(atPath: "\(folder)/\(name)", toPath: "\(out)/\(name)") }
        return out
    }
}
