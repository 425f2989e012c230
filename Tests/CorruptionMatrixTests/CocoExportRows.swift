import CocoExport
import Foundation
@testable import Harmonize
@testable import PackMix
import SynmixCore
import TestSupport
import XCTest
import SynmixFormats

/// `pack-mix coco` on hostile shards and manifests: every case is one reported skip naming the shard
/// (or manifest line) and the reason, every other sample is exported as in a clean run, nothing is
/// written outside --out, and nothing is left under a temporary name.
final class CocoExportCorruptionTests: XCTestCase {
    /// Shards of the Cityscapes fixtures (3 samples per shard) and the taxonomy.
    func cleanShards() throws -> (folder: String, shards: [String], taxonomy: Taxonomy) {
        let root = try temporaryFolder()
        for folder in ["leftImg8bit", "gtFine"] {
            try FileManager.default.copyItem(atPath: "\(fixturesFolder)/cityscapes/\(folder)", toPath: "\(root)/\(folder)")
        }
        let manifest = try temporaryFolder()
        var harmonize = HarmonizeOptions(dataset: .cityscapes, root: root, out: manifest, mappingPath: "\(mappingsFolder)/cityscapes.yaml",
                                         taxonomyPath: taxonomyPath)
        harmonize.split = .all
        _ = try Harmonizer.run(harmonize)
        let folder = try temporaryFolder()
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: manifest)], out: folder)
        options.split = .all
        options.shardSamples = 3
        options.sample.maxSize = (256, 128)
        options.sample.imageFormat = .png
        let taxonomy = try Taxonomy(contentsOf: taxonomyPath)
        options.taxonomy = taxonomy
        return (folder, try Packer.run(options).shards, taxonomy)
    }

    /// A copy of the shards in a new folder with shard 0's members replaced by `edit(members)`.
    func editedShards(_ clean: (folder: String, shards: [String], taxonomy: Taxonomy),
                      _ edit: (inout [(name: String, data: [UInt8])]) throws -> Void) throws -> String {
        let folder = try temporaryFolder()
        for (k, shard) in clean.shards.enumerated() {
            var members = try Tar.read(try Files.read("\(clean.folder)/\(shard)")).map { (name: $0.name, data: Array($0.data)) }
            if k == 0 { try edit(&members) }
            let bytes = members.flatMap { Tar.member(name: $0.name, data: $0.data) }
            try Files.writeAtomically(bytes + Tar.trailer(after: bytes.count), to: "\(folder)/\(shard)")
        }
        return folder
    }

    /// The first sample's JSON record, changed by `change`, and written back in place.
    func editingFirstRecord(_ change: @escaping (inout SampleRecord) -> Void) -> (inout [(name: String, data: [UInt8])]) throws -> Void {
        { members in
            var record = try SampleRecord(bytes: members[0].data, file: members[0].name)
            change(&record)
            members[0].data = Array(record.json.compact.utf8)
        }
    }

    func testEveryHostileShardSampleIsOneReportedSkipAndNothingIsWrittenOutsideOut() throws {
        let clean = try cleanShards()
        let cleanOut = try temporaryFolder()
        let cleanResult = try CocoExport.export(.shards(clean.shards.map { "\(clean.folder)/\($0)" }), taxonomy: clean.taxonomy, to: cleanOut)
        XCTAssertEqual(cleanResult.skipped, [])
        XCTAssertEqual(cleanResult.images, 6)
        let cleanImages = Files.list("\(cleanOut)/images")
        let firstKey = String(try Tar.read(try Files.read("\(clean.folder)/\(clean.shards[0])"))[0].sampleKey)

        let otherSize = try PNGCodec.encode(Raster<UInt8>(width: 128, height: 64, channels: 3))
        let cases: [(String, (inout [(name: String, data: [UInt8])]) throws -> Void, String)] = [
            ("json key ../ escapes", editingFirstRecord { $0.key = "../../escaped" }, "names the key '../../escaped'"),
            ("json key absolute", editingFirstRecord { $0.key = "/tmp/synmix-escaped" }, "names the key '/tmp/synmix-escaped'"),
            ("json key with a NUL", editingFirstRecord { $0.key = "a\u{0}b" }, "names the key"),
            ("member names ../ (key and json agree)", { members in
                var record = try SampleRecord(bytes: members[0].data, file: "")
                record.key = ".."
                members[0] = ("../...json", Array(record.json.compact.utf8))
                members[1].name = "../...png"
            }, "the key is empty"),
            ("an empty key", { members in
                members[0].name = ".json"
                members[1].name = ".png"
            }, "the key is empty"),
            ("a key that is not a file name", { members in
                var record = try SampleRecord(bytes: members[0].data, file: "")
                record.key = "a b"
                members[0] = ("a b.json", Array(record.json.compact.utf8))
                members[1].name = "a b.png"
            }, "not a plain file name"),
            ("a key longer than a file name", { members in
                let long = String(repeating: "k", count: CocoExport.maxKeyLength + 1)
                var record = try SampleRecord(bytes: members[0].data, file: "")
                record.key = long
                members[0] = ("\(long).json", Array(record.json.compact.utf8))
                members[1].name = "\(long).png"
            }, "more than the \(CocoExport.maxKeyLength)"),
            ("an instance of a class outside the taxonomy", editingFirstRecord { $0.instances[0].className = "caravan" }, "caravan"),
            ("an image of another size than the json", { $0[1].data = otherSize }, "its image is 128x64"),
            ("a JPEG under a .png name", { $0[1].data = try JPEGCodec.encode(Raster<UInt8>(width: 256, height: 128, channels: 3)) },
             "its image member"),
            ("width and height beyond the pixel budget", editingFirstRecord { $0.width = 100_000; $0.height = 100_000 }, "outside 1 …"),
            ("masks of another size than the image", editingFirstRecord { $0.height = 64 }, "mask size"),
            ("a second sample under the first key (another shard)", { members in
                // Shard 0's first sample becomes a copy of shard 1's first sample: same key and id.
                let second = try Tar.read(try Files.read("\(clean.folder)/\(clean.shards[1])"))
                members[0] = (second[0].name, Array(second[0].data))
                members[1] = (second[1].name, Array(second[1].data))
            }, "repeats"),
            ("a second sample with the first one's id", { members in
                var record = try SampleRecord(bytes: members[2].data, file: "")
                let first = try SampleRecord(bytes: members[0].data, file: "")
                record.id = first.id
                members[2].data = Array(record.json.compact.utf8)
            }, "repeats the one in"),
        ]
        for (name, edit, reason) in cases {
            let folder = try editedShards(clean, edit)
            let parent = try temporaryFolder()
            let out = "\(parent)/coco"
            let result = try CocoExport.export(.shards(clean.shards.map { "\(folder)/\($0)" }), taxonomy: clean.taxonomy, to: out)
            XCTAssertEqual(result.skipped.count, 1, "\(name): \(result.skipped)")
            XCTAssertEqual(result.skipped.first?.path, "\(folder)/\(clean.shards[name.contains("another shard") ? 1 : 0])", name)
            XCTAssertTrue(result.skipped.first?.reason.contains(reason) ?? false, "\(name): \(result.skipped)")
            XCTAssertEqual(result.images, cleanResult.images - 1, name)
            // Nothing beside the export (an escape would land in parent or /tmp), nothing temporary.
            XCTAssertEqual(Files.list(parent), ["coco"], name)
            XCTAssertEqual(Files.list(out), ["images", "instances.json"], name)
            XCTAssertFalse(Files.exists("/tmp/synmix-escaped.png"), name)
            let images = Files.list("\(out)/images")
            XCTAssertEqual(images.count, cleanImages.count - 1, name)
            XCTAssertTrue(Set(images).isSubset(of: Set(cleanImages)), "\(name): \(images)")
            for image in images {
                XCTAssertEqual(try Files.read("\(out)/images/\(image)"), try Files.read("\(cleanOut)/images/\(image)"), "\(name): \(image)")
            }
            if !name.contains("id") && !name.contains("another shard") { XCTAssertFalse(images.contains { $0.hasPrefix(firstKey + ".") }, name) }
        }
        XCTAssertEqual(cases.count, 14)
    }

    func testAnEmptyMaskIsLeftOutOfTheAnnotationsAndTheSampleKept() throws {
        let clean = try cleanShards()
        let folder = try editedShards(clean, editingFirstRecord { record in
            let empty = RLE.empty(height: record.height, width: record.width)
            record.instances[0].mask = empty
        })
        let cleanResult = try CocoExport.export(.shards(clean.shards.map { "\(clean.folder)/\($0)" }), taxonomy: clean.taxonomy,
                                                to: try temporaryFolder())
        let result = try CocoExport.export(.shards(clean.shards.map { "\(folder)/\($0)" }), taxonomy: clean.taxonomy, to: try temporaryFolder())
        XCTAssertEqual(result.skipped, [])
        XCTAssertEqual(result.emptyMasks, 1)
        XCTAssertEqual(result.images, cleanResult.images)
        XCTAssertEqual(result.annotations, cleanResult.annotations - 1)
    }

    func testAnExistingInstancesFileOrAFileAsOutIsRefusedAndLeftAsItWas() throws {
        let clean = try cleanShards()
        let shards = CocoExport.Source.shards(clean.shards.map { "\(clean.folder)/\($0)" })
        let out = try temporaryFolder()
        try Files.writeAtomically("someone's file", to: "\(out)/instances.json")
        XCTAssertThrowsError(try CocoExport.export(shards, taxonomy: clean.taxonomy, to: out)) { error in
            XCTAssertEqual((error as? FileError)?.path, "\(out)/instances.json")
            XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
        }
        XCTAssertEqual(try Files.read("\(out)/instances.json"), Array("someone's file".utf8))
        XCTAssertEqual(Files.list(out), ["instances.json"])
        XCTAssertThrowsError(try CocoExport.export(shards, taxonomy: clean.taxonomy, to: "\(out)/instances.json")) { error in
            XCTAssertTrue("\(error)".contains("not a folder"), "\(error)")
        }
    }

    func testARepeatedManifestIdIsSkippedWithItsLineAndTheFirstKept() throws {
        let root = try temporaryFolder()
        for folder in ["leftImg8bit", "gtFine"] {
            try FileManager.default.copyItem(atPath: "\(fixturesFolder)/cityscapes/\(folder)", toPath: "\(root)/\(folder)")
        }
        let manifest = try temporaryFolder()
        var harmonize = HarmonizeOptions(dataset: .cityscapes, root: root, out: manifest, mappingPath: "\(mappingsFolder)/cityscapes.yaml",
                                         taxonomyPath: taxonomyPath)
        harmonize.split = .all
        _ = try Harmonizer.run(harmonize)
        let lines = try readManifest(manifest).map(\.jsonLine)
        try Files.writeAtomically((lines + [lines[0]]).map { $0 + "\n" }.joined(), to: "\(manifest)/manifest.jsonl")
        let result = try CocoExport.export(.manifest(manifest), taxonomy: try Taxonomy(contentsOf: taxonomyPath), to: try temporaryFolder())
        XCTAssertEqual(result.skipped.count, 1)
        XCTAssertEqual(result.skipped.first?.path, "\(manifest)/manifest.jsonl")
        XCTAssertTrue(result.skipped.first?.reason.hasPrefix("line \(lines.count + 1): record id") ?? false, "\(result.skipped)")
        XCTAssertEqual(result.images, lines.count)
        // The manifest's own folder is an input's folder: refused.
        XCTAssertThrowsError(try CocoExport.export(.manifest(manifest), taxonomy: try Taxonomy(contentsOf: taxonomyPath), to: manifest))
    }
}
