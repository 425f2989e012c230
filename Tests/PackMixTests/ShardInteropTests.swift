import Foundation
import XCTest
@testable import PackMix
import SynmixCore
import TestSupport
import SynmixFormats

/// The shards as others read them: Python's webdataset and pycocotools, `tar tf`, and the example loader.
final class ShardInteropTests: XCTestCase {
    func testWebdatasetAndPycocotoolsReadOurShards() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let out = try temporaryFolder()
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: fixtureManifests.real),
                                           PackInput(name: "synthetic", manifest: fixtureManifests.synthetic)], out: out)
        options.split = .all
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

/// COCO exports as pycocotools reads them: every mask equal to the manifest's, from a manifest and from shards.
final class CocoExportInteropTests: XCTestCase {
    func testPycocotoolsLoadsTheExportWithTheManifestsMasks() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        guard let packMix = builtExecutable("pack-mix") else { return XCTFail("pack-mix is not built") }
        let records = try readManifest(fixtureManifests.synthetic) + readManifest(fixtureManifests.real)
        var expected: [String: [InstanceRecord]] = [:]
        for record in records { expected[record.id] = record.instances }

        let shards = try temporaryFolder()
        XCTAssertEqual(try runProgram(packMix, ["--real", fixtureManifests.real, "--synthetic", fixtureManifests.synthetic,
                                                "--split", "all", "--out", shards]).status, 0)
        for (name, arguments) in [("manifest", ["--manifest", fixtureManifests.synthetic]), ("shards", ["--shards", "\(shards)/mix-*.tar"])] {
            let out = try temporaryFolder()
            let export = try runProgram(packMix, ["coco"] + arguments + ["--out", out])
            XCTAssertEqual(export.status, 0, name)
            let (status, output) = try runProgram(python, ["\(repositoryRoot)/Tests/interop/coco_check.py", "\(out)/instances.json"])
            XCTAssertEqual(status, 0, name)
            // pycocotools prints its own progress lines; ours are the JSON ones.
            let lines = try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map { try JSON.parse($0) }
            let summary = try XCTUnwrap(lines.last)
            XCTAssertEqual(summary["categories"]?.arrayValue?.compactMap(\.stringValue),
                           ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"], name)
            XCTAssertEqual(summary["images"]?.intValue, name == "manifest" ? 5 : 11, name)
            var seen: [String: Int] = [:]
            for annotation in lines.dropLast() {
                let id = try XCTUnwrap(annotation["synmix_id"]?.stringValue)
                let index = seen[id, default: 0]
                seen[id] = index + 1
                let instance = try XCTUnwrap(expected[id]?[index], "\(name): \(id) #\(index)")
                XCTAssertEqual(annotation["sha256"]?.stringValue, SHA256Hasher.hex(instance.mask.decode()), "\(name): \(id) #\(index)")
                XCTAssertEqual(annotation["area"]?.intValue, instance.area)
                XCTAssertEqual(annotation["bbox"]?.arrayValue?.compactMap(\.intValue), instance.bbox)
                XCTAssertEqual(annotation["category"]?.stringValue, instance.className)
                XCTAssertEqual(annotation["iscrowd"]?.intValue, instance.isCrowd ? 1 : 0)
                let file = try XCTUnwrap(annotation["file_name"]?.stringValue)
                XCTAssertTrue(Files.exists(file.hasPrefix("/") ? file : "\(out)/\(file)"), file)
            }
            XCTAssertEqual(seen.values.reduce(0, +), seen.keys.map { expected[$0]!.count }.reduce(0, +), name)
            XCTAssertGreaterThan(seen.values.reduce(0, +), 20, name)
        }
    }
}
