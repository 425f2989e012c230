import Foundation
import XCTest
@testable import PackMix
import SynmixCore
import TestSupport

/// The shards as others read them: Python's webdataset and pycocotools, `tar tf`, and the example loader.
final class ShardInteropTests: XCTestCase {
    func testWebdatasetAndPycocotoolsReadOurShards() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let out = try temporaryFolder()
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: fixtureManifests.real),
                                           PackInput(name: "synthetic", manifest: fixtureManifests.synthetic)], out: out)
        options.split = "all"
        options.shardSamples = 4
        options.sample.imageFormat = .jpg
        options.sample.scale = 0.5
        options.taxonomy = try Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml")
        let result = try Packer.run(options)
        let shards = result.shards.map { "\(out)/\($0)" }

        let (status, output) = try runProgram(python, ["\(repositoryRoot)/Tests/interop/shards_check.py"] + shards)
        XCTAssertEqual(status, 0)
        let samples = try output.split(separator: "\n").map { try JSON.parse($0) }
        XCTAssertEqual(samples.count, 11)
        var ours: [(key: String, masks: [RLE])] = []
        var records: [SampleRecord] = []
        for shard in shards {
            let members = try Tar.read(try Files.read(shard))
            for json in members where json.name.hasSuffix(".json") {
                let value = try JSON.parse(Array(json.data))
                records.append(try SampleRecord(json: value, file: json.name))
                let (h, w) = (value["height"]!.intValue!, value["width"]!.intValue!)
                var masks = try value["instances"]!.arrayValue!.map { try RLE(string: $0["mask"]!["counts"]!.stringValue!, height: h, width: w) }
                if let ignore = value["ignore"], !ignore.isNull { masks.append(try RLE(string: ignore["counts"]!.stringValue!, height: h, width: w)) }
                ours.append((value["key"]!.stringValue!, masks))
            }
        }
        XCTAssertEqual(samples.map { $0["key"]!.stringValue! }, ours.map(\.key))
        var compared = 0
        for (sample, mine) in zip(samples, ours) {
            XCTAssertEqual(sample["suffixes"]!.arrayValue!.map { $0.stringValue! }, ["jpg", "json"])
            let masks = sample["masks"]!.arrayValue!
            XCTAssertEqual(masks.count, mine.masks.count)
            for (theirs, rle) in zip(masks, mine.masks) {
                XCTAssertEqual(theirs["sha256"]!.stringValue!, SHA256Hasher.hex(rle.decode()), mine.key)
                XCTAssertEqual(theirs["area"]!.intValue!, rle.area)
                XCTAssertEqual(theirs["bbox"]!.arrayValue!.map { $0.intValue! }, rle.bbox)
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 80)

        // tar lists exactly the members we wrote, in order.
        let listing = try runProgram("/bin/tar", ["tf", shards[0]])
        XCTAssertEqual(listing.status, 0)
        XCTAssertEqual(listing.output.split(separator: "\n").map(String.init), try Tar.read(try Files.read(shards[0])).map(\.name))

        // The PyTorch-side example turns every sample into a Detectron2-style dict: category ids from
        // index.json's taxonomy, the ignore region kept.
        let example = try runProgram(python, ["\(repositoryRoot)/examples/torch_loader.py",
                                       "\(out)/mix-{000000..\(String(format: "%06d", shards.count - 1))}.tar"])
        XCTAssertEqual(example.status, 0)
        let dicts = try example.output.split(separator: "\n").map { try JSON.parse($0) }
        XCTAssertEqual(dicts.count, 11)
        XCTAssertEqual(dicts.map { $0["image_shape"]!.arrayValue!.map { $0.intValue! } }.first.map { $0.count }, 3)
        let classes = try XCTUnwrap(options.taxonomy).classes.map(\.name)
        for (dict, record) in zip(dicts, records) {
            XCTAssertEqual(dict["image_id"]?.stringValue, record.id)
            XCTAssertEqual(dict["image_shape"]!.arrayValue!.map { $0.intValue! }, [dict["height"]!.intValue!, dict["width"]!.intValue!, 3])
            XCTAssertEqual(dict["category_ids"]!.arrayValue!.map { $0.intValue! }, record.instances.map { classes.firstIndex(of: $0.className)! })
            XCTAssertEqual(dict["ignore"]?["counts"]?.stringValue, record.ignore?.string, record.id)
        }
        XCTAssertGreaterThan(records.filter { $0.ignore != nil }.count, 3)
    }
}
