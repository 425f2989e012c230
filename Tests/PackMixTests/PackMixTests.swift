import Foundation
import XCTest
@testable import Harmonize
@testable import PackMix
import SynmixCore
import TestSupport
import SynmixFormats

/// Harmonized fixture manifests (real: Cityscapes fixtures, synthetic: Synscapes fixtures), made once.
let fixtureManifests: (real: String, synthetic: String) = {
    let folder = try! temporaryFolder("packmix-fixtures")
    for dataset in Dataset.allCases {
        var options = HarmonizeOptions(dataset: dataset, root: "\(repositoryRoot)/fixtures/\(dataset.rawValue)",
                                       out: "\(folder)/\(dataset.rawValue)",
                                       mappingPath: "\(repositoryRoot)/mappings/\(dataset.rawValue).yaml",
                                       taxonomyPath: "\(repositoryRoot)/mappings/taxonomy.yaml")
        options.split = .all
        _ = try! Harmonizer.run(options)
    }
    return ("\(folder)/cityscapes", "\(folder)/synscapes")
}()

func files(_ folder: String) throws -> [String: String] {
    var digests: [String: String] = [:]
    for name in Files.list(folder) where !Files.isDirectory("\(folder)/\(name)") {
        digests[name] = SHA256Hasher.hex(try Files.read("\(folder)/\(name)"))
    }
    return digests
}

final class PackMixTests: XCTestCase {
    func options(_ out: String, syntheticCount: SampleCount = .all, seed: UInt64 = 7) -> PackOptions {
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: fixtureManifests.real),
                                           PackInput(name: "synthetic", manifest: fixtureManifests.synthetic, count: syntheticCount)],
                                  out: out)
        options.seed = seed
        options.split = .all
        options.shardSamples = 3
        return options
    }

    func testTwoRunsWriteTheSameBytes() throws {
        let a = try temporaryFolder(), b = try temporaryFolder()
        let result = try Packer.run(options(a))
        _ = try Packer.run(options(b))
        XCTAssertEqual(result.samples, 11)
        XCTAssertEqual(result.shards, ["mix-000000.tar", "mix-000001.tar", "mix-000002.tar", "mix-000003.tar"])
        XCTAssertEqual(try files(a), try files(b))
        XCTAssertEqual(try files(a).count, 6)   // 4 shards, index.json, errors.jsonl
    }

    func testTheIndexAndEverySampleReadBackThroughTheirOwnerTypesToTheSameBytes() throws {
        let out = try temporaryFolder()
        _ = try Packer.run(options(out))
        let indexText = String(decoding: try Files.read("\(out)/index.json"), as: UTF8.self)
        let index = try ShardIndex.read(folder: out)
        XCTAssertEqual(index.json.pretty, indexText)
        XCTAssertEqual(index.samples, 11)
        // The plan reads back through its owner type to the same bytes, and its counts are the index's.
        let plan = try PackPlan(json: index.plan, file: "index.json")
        XCTAssertEqual(plan.json.compact, index.plan.compact)
        XCTAssertEqual(plan.samples, 11)
        XCTAssertEqual(plan.countsPerInput.map(\.name), ["real", "synthetic"])
        XCTAssertEqual(plan.options.prefix, "mix")
        var keys: [String] = []
        for entry in index.shards {
            for member in try Tar.read(try Files.read("\(out)/\(entry.name)")) where member.sampleExtension == "json" {
                let record = try SampleRecord(bytes: Array(member.data), file: member.name)
                XCTAssertEqual(Array(record.json.compact.utf8), Array(member.data))
                XCTAssertEqual(record.key, String(member.sampleKey))
                keys.append(record.key)
            }
            XCTAssertEqual(entry.firstKey, keys[keys.count - entry.samples])
            XCTAssertEqual(entry.lastKey, keys.last)
        }
        XCTAssertEqual(keys.count, 11)
    }

    func testTheIndexNamesTheTaxonomyAndRecordsWithForeignClassesAreSkipped() throws {
        let input = try temporaryFolder()
        var records = try readManifest(fixtureManifests.real)
        let foreign = try XCTUnwrap(records.firstIndex { !$0.instances.isEmpty })
        records[foreign].instances[0].className = "caravan"
        try Files.writeAtomically(records.map { $0.jsonLine + "\n" }.joined(), to: "\(input)/manifest.jsonl")
        let out = try temporaryFolder()
        var opts = PackOptions(inputs: [PackInput(name: "real", manifest: input)], out: out)
        opts.split = .all
        opts.taxonomy = try Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml")
        let result = try Packer.run(opts)
        XCTAssertEqual(result.samples, records.count - 1)
        XCTAssertEqual(result.errors.map(\.reason),
                       ["record \(records[foreign].id): instance 0 has class 'caravan', which is not an instance class of the taxonomy"])
        let index = try ShardIndex.read(folder: out)
        XCTAssertEqual(index.taxonomy?.instanceClasses, ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])
        XCTAssertEqual(index.taxonomy?.sha256, opts.taxonomy?.sha256)
        XCTAssertEqual(try Verifier.verify(out).problems, [])
    }

    func testPartsOfAnArrayJobMergeToTheSameBytesForAnyNumberOfParts() throws {
        let whole = try temporaryFolder()
        _ = try Packer.run(options(whole))
        let reference = try files(whole)
        XCTAssertEqual(reference.count, 6)   // 4 shards, index.json, errors.jsonl
        for count in 1...3 {
            let out = try temporaryFolder()
            var written: [String] = []
            for index in (1...count).reversed() {   // the parts need not run in order
                var part = options(out)
                part.partition = Partition("\(index)/\(count)")
                written += try Packer.run(part).shards
            }
            XCTAssertEqual(written.sorted(), ["mix-000000.tar", "mix-000001.tar", "mix-000002.tar", "mix-000003.tar"], "N = \(count)")
            XCTAssertFalse(Files.exists("\(out)/index.json"))
            let index = try Packer.merge(out: out)
            XCTAssertEqual(index.samples, 11)
            XCTAssertEqual(try files(out), reference, "N = \(count)")
        }
        // A missing part, and a part of another run, are named.
        let gap = try temporaryFolder()
        for index in [1, 3] {
            var part = options(gap)
            part.partition = Partition("\(index)/3")
            _ = try Packer.run(part)
        }
        XCTAssertThrowsError(try Packer.merge(out: gap)) {
            XCTAssertEqual("\($0)", "partition 2/3 is missing: no \(gap)/index.part-2-of-3.json")
        }
        var other = options(gap)
        other.partition = Partition("2/2")
        _ = try Packer.run(other)
        XCTAssertThrowsError(try Packer.merge(out: gap)) {
            XCTAssertEqual("\($0)", "\(gap)/index.part-2-of-2.json is part 2/2 but index.part-1-of-3.json is of 3: parts of different runs")
        }
    }

    func testTwoIdsWithOneShardKeyKeepTheFirstAndReportTheSecond() throws {
        let input = try temporaryFolder()
        var records = try readManifest(fixtureManifests.real)
        var twin = records[0]
        twin.id = records[0].id.replacingOccurrences(of: "/", with: "-")   // the same key, another id
        records.append(twin)
        try Files.writeAtomically(records.map { $0.jsonLine + "\n" }.joined(), to: "\(input)/manifest.jsonl")
        var opts = PackOptions(inputs: [PackInput(name: "real", manifest: input)], out: try temporaryFolder())
        opts.split = .all
        let result = try Packer.run(opts)
        XCTAssertEqual(result.samples, records.count - 1)
        XCTAssertEqual(result.errors.count, 1)
        // Which of the two comes first is the plan's (seeded) order; the other is named as skipped.
        let key = Files.safeName(twin.id)
        XCTAssertTrue([("record \(twin.id) would have the shard key \(key) of record \(records[0].id); skipped"),
                       ("record \(records[0].id) would have the shard key \(key) of record \(twin.id); skipped")]
                        .contains(result.errors[0].reason), result.errors[0].reason)
        XCTAssertEqual(try Verifier.verify(opts.out).problems, [])
    }

    func testSyntheticCountsAreExactAndNestedAcrossSizes() throws {
        var chosen: [Set<String>] = []
        for n in [1, 2, 4] {
            let plan = try MixPlan.build([PackInput(name: "real", manifest: fixtureManifests.real),
                                          PackInput(name: "synthetic", manifest: fixtureManifests.synthetic, count: .exactly(n))],
                                         split: .all, seed: 42)
            XCTAssertEqual(plan.order.filter { $0.domain == .synthetic }.count, n)
            XCTAssertEqual(plan.order.filter { $0.domain == .real }.count, 6)
            chosen.append(Set(plan.order.filter { $0.domain == .synthetic }.map(\.id)))
        }
        XCTAssertTrue(chosen[0].isSubset(of: chosen[1]) && chosen[1].isSubset(of: chosen[2]), "\(chosen)")
        // A fraction is of the whole set: 6 real + 4 synthetic = 40 % synthetic.
        let fraction = try MixPlan.build([PackInput(name: "real", manifest: fixtureManifests.real),
                                          PackInput(name: "synthetic", manifest: fixtureManifests.synthetic, count: .fraction(0.4))],
                                         split: .all, seed: 42)
        XCTAssertEqual(fraction.order.filter { $0.domain == .synthetic }.count, 4)
        XCTAssertThrowsError(try MixPlan.build([PackInput(name: "synthetic", manifest: fixtureManifests.synthetic, count: .exactly(6))],
                                               split: .all, seed: 1)) { error in
            XCTAssertEqual("\(error)", "input 'synthetic' has 5 records in split 'all', 6 were asked for")
        }
        // The split filter: the Cityscapes fixtures have 3 train frames.
        let train = try MixPlan.build([PackInput(name: "real", manifest: fixtureManifests.real)], split: .train, seed: 1)
        XCTAssertEqual(train.order.count, 3)
    }

    /// 22 records (the fixtures twice under new ids), packed re-encoded at 1.5× in shards of 2: long enough a
    /// run, on one job, to be killed after a few shards, with no test hook in pack-mix.
    func slowPack(_ out: String) throws -> PackOptions {
        let manifests = try temporaryFolder()
        for (name, source) in [("real", fixtureManifests.real), ("synthetic", fixtureManifests.synthetic)] {
            let records = try readManifest(source)
            let lines = (0..<2).flatMap { copy in records.map { record -> String in
                var copied = record
                copied.id += "-copy\(copy)"
                return copied.jsonLine + "\n"
            } }
            try Files.createDirectory("\(manifests)/\(name)")
            try Files.writeAtomically(lines.joined(), to: "\(manifests)/\(name)/manifest.jsonl")
        }
        var opts = PackOptions(inputs: [PackInput(name: "real", manifest: "\(manifests)/real"),
                                        PackInput(name: "synthetic", manifest: "\(manifests)/synthetic")], out: out)
        (opts.seed, opts.split, opts.shardSamples) = (7, .all, 2)
        (opts.sample.scale, opts.sample.imageFormat) = (1.5, .png)
        return opts
    }

    /// Runs the pack-mix executable with `options` and SIGKILLs it once `shards` shard files exist.
    func killedRun(_ options: PackOptions, extra: [String] = [], after shards: Int) throws {
        guard let executable = builtExecutable("pack-mix") else {
            return XCTFail("pack-mix is not built (run `swift build --build-tests`)")
        }
        let ending = try runKilled(executable, ["--real", options.inputs[0].manifest, "--synthetic", options.inputs[1].manifest,
                                                "--seed", "7", "--split", "all", "--shard-samples", "2", "--scale", "1.5",
                                                "--image-format", "png", "--out", options.out, "--jobs", "1"] + extra) {
            Files.list(options.out).filter { $0.hasSuffix(".tar") }.count >= shards
        }
        XCTAssertEqual(ending, .uncaughtSignal, "the run finished before it could be killed")
    }

    func testResumeAfterAKilledRunGivesTheSameBytes() throws {
        let reference = try slowPack(try temporaryFolder())
        _ = try Packer.run(reference)
        var opts = reference   // the same manifests (the plan names them by path), another folder
        opts.out = try temporaryFolder()
        try killedRun(opts, after: 3)
        XCTAssertFalse(Files.exists("\(opts.out)/index.json"))
        let resumed = try Packer.run(opts)
        // The journal is rewritten right after each rename: a kill between the two costs at most one shard.
        XCTAssertGreaterThanOrEqual(resumed.resumedShards, 2)
        XCTAssertLessThan(resumed.resumedShards, resumed.shards.count)
        XCTAssertEqual(try files(opts.out), try files(reference.out))

        // A part of an array job resumes the same way, touching only its own shards; merged, the bytes are the same.
        opts.out = try temporaryFolder()
        try killedRun(opts, extra: ["--partition", "1/2"], after: 2)
        opts.partition = Partition("1/2")
        XCTAssertGreaterThanOrEqual(try Packer.run(opts).resumedShards, 1)
        opts.partition = Partition("2/2")
        _ = try Packer.run(opts)
        _ = try Packer.merge(out: opts.out)
        XCTAssertEqual(try files(opts.out), try files(reference.out))
    }

    func testVerifyCatchesAFlippedByteATruncatedShardAndAMissingMember() throws {
        let out = try temporaryFolder()
        _ = try Packer.run(options(out))
        XCTAssertEqual(try Verifier.verify(out).problems, [])
        XCTAssertEqual(try Verifier.verify(out).samples, 11)

        var shard = try Files.read("\(out)/mix-000000.tar")
        shard[700] ^= 0x01   // inside the first sample's JSON
        try Files.writeAtomically(shard, to: "\(out)/mix-000000.tar")
        let truncated = try Files.read("\(out)/mix-000001.tar")
        try Files.writeAtomically(Array(truncated.prefix(1500)), to: "\(out)/mix-000001.tar")
        // Rebuild shard 2 without its first sample's image member.
        let members = try Tar.read(try Files.read("\(out)/mix-000002.tar"))
        var rebuilt: [UInt8] = []
        for (index, member) in members.enumerated() where index != 1 { rebuilt += Tar.member(name: member.name, data: Array(member.data)) }
        rebuilt += Tar.trailer(after: rebuilt.count)
        try Files.writeAtomically(rebuilt, to: "\(out)/mix-000002.tar")

        let problems = try Verifier.verify(out).problems.map(\.description)
        XCTAssertTrue(problems.contains("mix-000000.tar: sha256 differs from the index"), "\(problems)")
        XCTAssertTrue(problems.contains("mix-000001.tar: at byte 0: member data truncated (5560 bytes declared); the 0 members before it are checked"), "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasPrefix("mix-000002.tar ") && $0.hasSuffix(": expected \($0.split(separator: " ")[1].dropLast()).json and one image, found json") }, "\(problems)")
        XCTAssertFalse(problems.contains { $0.hasPrefix("mix-000003.tar") })
    }

    func testVerifyCountsTheSamplesBeforeTheDamageAndFlagsUnsafeNamesDuplicateKeysAndBadImages() throws {
        let out = try temporaryFolder()
        _ = try Packer.run(options(out))
        let members = try Tar.read(try Files.read("\(out)/mix-000000.tar"))
        XCTAssertEqual(members.count, 6)   // three samples
        let other = try Tar.read(try Files.read("\(out)/mix-000001.tar"))
        XCTAssertTrue(other[1].name.hasSuffix(".png"))
        // The shard's own members, then a sample under an unsafe name, the first sample again,
        // another shard's sample with its PNG cut short; the archive then ends mid-member.
        var bytes: [UInt8] = []
        for member in members { bytes += Tar.member(name: member.name, data: Array(member.data)) }
        bytes += Tar.member(name: "../evil.json", data: Array(members[0].data))
        for member in members.prefix(2) { bytes += Tar.member(name: member.name, data: Array(member.data)) }
        bytes += Tar.member(name: other[0].name, data: Array(other[0].data))
        bytes += Tar.member(name: other[1].name, data: Array(other[1].data.prefix(60)))
        let damageOffset = bytes.count
        bytes += Array(Tar.member(name: "late.json", data: [UInt8](repeating: 32, count: 2000)).prefix(1200))
        try Files.writeAtomically(bytes, to: "\(out)/mix-000000.tar")

        let (samples, problems) = try Verifier.verify(out)
        let text = problems.map(\.description)
        XCTAssertEqual(samples, 11 - 3 + 5, "\(text)")   // every sample before the damage is counted, the damage named
        XCTAssertTrue(text.contains("mix-000000.tar: at byte \(damageOffset): member data truncated (2000 bytes declared); the 11 members before it are checked"), "\(text)")
        XCTAssertTrue(text.contains("mix-000000.tar: member name '../evil.json' is not a plain file name (unsafe to extract)"), "\(text)")
        let firstKey = String(members[0].name.prefix { $0 != "." })
        XCTAssertTrue(text.contains("mix-000000.tar \(firstKey): the key appears twice in the shard"), "\(text)")
        let cutKey = String(other[0].name.prefix { $0 != "." })
        XCTAssertTrue(text.contains { $0.hasPrefix("mix-000000.tar \(cutKey): png member does not decode") }, "\(text)")
    }

    func testAMissingImageIsSkippedAndReportedNeverAPartialSample() throws {
        let root = try temporaryFolder()
        try FileManager.default.copyItem(atPath: "\(repositoryRoot)/fixtures/synscapes", toPath: "\(root)/synscapes")
        try FileManager.default.removeItem(atPath: "\(root)/synscapes/img/rgb/2.png")
        var records = try String(contentsOfFile: "\(fixtureManifests.synthetic)/manifest.jsonl", encoding: .utf8)
        records = records.replacingOccurrences(of: "\(repositoryRoot)/fixtures/synscapes", with: "\(root)/synscapes")
        try records.write(toFile: "\(root)/manifest.jsonl", atomically: true, encoding: .utf8)
        let out = try temporaryFolder()
        var opts = PackOptions(inputs: [PackInput(name: "synthetic", manifest: "\(root)/manifest.jsonl")], out: out)
        opts.split = .all
        let result = try Packer.run(opts)
        XCTAssertEqual(result.samples, 4)
        XCTAssertEqual(result.errors.map(\.path), ["\(root)/synscapes/img/rgb/2.png"])
        let members = try Tar.read(try Files.read("\(out)/mix-000000.tar")).map(\.name)
        XCTAssertEqual(members.count, 8)
        XCTAssertFalse(members.contains { $0.hasPrefix("synscapes-2.") })
        XCTAssertEqual(try Verifier.verify(out).problems, [])
    }

    func testRootMapFindsAMovedDataset() throws {
        let moved = try temporaryFolder()
        try FileManager.default.copyItem(atPath: "\(repositoryRoot)/fixtures/synscapes", toPath: "\(moved)/synscapes")
        var records = try String(contentsOfFile: "\(fixtureManifests.synthetic)/manifest.jsonl", encoding: .utf8)
        records = records.replacingOccurrences(of: "\(repositoryRoot)/fixtures/synscapes", with: "/gone/Synscapes")
        try records.write(toFile: "\(moved)/manifest.jsonl", atomically: true, encoding: .utf8)
        var opts = PackOptions(inputs: [PackInput(name: "synthetic", manifest: "\(moved)/manifest.jsonl")], out: try temporaryFolder())
        opts.split = .all
        XCTAssertEqual(try Packer.run(opts).errors.count, 5)   // every image is missing at the old root
        opts.out = try temporaryFolder()
        opts.sample.rootMap = [(old: "/gone/Synscapes", new: "\(moved)/synscapes")]
        let result = try Packer.run(opts)
        XCTAssertEqual([result.samples, result.errors.count], [5, 0])
    }

    func testAWriteErrorLeavesNoHalfWrittenShardUnderAFinalName() throws {
        let out = try temporaryFolder()
        // The second shard's temporary file cannot be created: a stand-in for a full disk.
        try FileManager.default.createDirectory(atPath: "\(out)/mix-000001.tar.tmp", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(out)/mix-000001.tar.tmp/x", withIntermediateDirectories: true)
        XCTAssertThrowsError(try Packer.run(options(out)))
        let tars = Files.list(out).filter { $0.hasSuffix(".tar") }
        XCTAssertEqual(tars, ["mix-000000.tar"])   // complete; nothing else under a final name
        XCTAssertFalse(Files.exists("\(out)/index.json"))
        let members = try Tar.read(try Files.read("\(out)/mix-000000.tar"))
        XCTAssertEqual(members.count, 6)
    }

    func testScalingKeepsMasksAlignedWithTheImage() throws {
        let root = try temporaryFolder()
        try Files.createDirectory("\(root)/img")
        var pixels = Raster<UInt8>(width: 100, height: 50, channels: 3, filling: 0)
        for y in 10..<20 { for x in 10..<30 { for c in 0..<3 { pixels.samples[(y * 100 + x) * 3 + c] = 200 } } }
        try Files.writeAtomically(try PNGCodec.encode(pixels), to: "\(root)/img/a.png")
        var mask = [UInt8](repeating: 0, count: 5000)
        for y in 10..<20 { for x in 10..<30 { mask[y * 100 + x] = 1 } }
        var ignore = [UInt8](repeating: 0, count: 5000)
        for y in 40..<50 { for x in 0..<100 { ignore[y * 100 + x] = 1 } }
        let record = ManifestRecord(id: "t/a", source: "t", domain: .synthetic, split: .train, root: root, image: "img/a.png",
                                    width: 100, height: 50,
                                    instances: [InstanceRecord(id: 0, className: "car", isCrowd: false,
                                                               mask: RLE.encode(mask: mask, height: 50, width: 100), sourceId: 1,
                                                               occlusion: 0, truncation: 0, amodalBBox: [10, 10, 20, 10])],
                                    ignore: RLE.encode(mask: ignore, height: 50, width: 100))
        var sampleOptions = SampleOptions()
        sampleOptions.scale = 0.5
        sampleOptions.imageFormat = .png
        let sample = try SampleBuilder.build(record, options: sampleOptions)
        let members = try Tar.read(sample.bytes + Tar.trailer(after: sample.bytes.count))
        let json = try JSON.parse(Array(members[0].data))
        XCTAssertEqual(json["width"]?.intValue, 50)
        XCTAssertEqual(json["original_size"]?.arrayValue?.map { $0.intValue! }, [100, 50])
        let instance = json["instances"]!.arrayValue![0]
        XCTAssertEqual(instance["bbox"]?.arrayValue?.map { $0.intValue! }, [5, 5, 10, 5])
        XCTAssertEqual(instance["area"]?.intValue, 50)
        XCTAssertEqual(instance["amodal_bbox"]?.arrayValue?.map { $0.doubleValue! }, [5, 5, 10, 5])
        XCTAssertEqual(json["ignore"]?["counts"].map { try? RLE(string: $0.stringValue!, height: 25, width: 50).area }, 250)
        guard case .eightBit(let image) = try PNGCodec.decode(Array(members[1].data), path: "x") else { return XCTFail() }
        XCTAssertEqual([image.width, image.height], [50, 25])
        // Inside the box the image is the box's colour, outside it is black: masks and pixels agree.
        XCTAssertEqual(image.samples[(7 * 50 + 10) * 3], 200)
        XCTAssertEqual(image.samples[(3 * 50 + 10) * 3], 0)
        XCTAssertEqual(image.samples[(7 * 50 + 16) * 3], 0)
    }

    func testTarMembersFollowTheShardConventions() throws {
        let member = Tar.member(name: "s0001.json", data: Array("{\"a\": 1}".utf8))
        XCTAssertEqual(member.count, 1024)
        XCTAssertEqual(Array(member[100..<108]), Array("0000644\0".utf8))
        XCTAssertEqual(Array(member[136..<148]), Array("00000000000\0".utf8))
        XCTAssertEqual(Array(member[257..<265]), Array("ustar\000".utf8))
        let archive = member + Tar.trailer(after: member.count)
        XCTAssertEqual(archive.count, 10_240)
        let longName = String(repeating: "k", count: 120) + ".json"
        let long = Tar.member(name: longName, data: [1, 2, 3])
        XCTAssertEqual(try Tar.read(long + Tar.trailer(after: long.count)).map(\.name), [longName])
    }
}
