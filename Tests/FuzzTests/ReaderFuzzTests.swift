import Foundation
@testable import Evaluation
@testable import Harmonize
import Network
@testable import PackMix
import ShardData
import SynmixCore
import TestSupport
import XCTest
import SynmixFormats

/// Every reader of outside bytes driven with mutated valid inputs: each must return or throw,
/// never trap, hang or allocate without bound. `make test` runs a short deterministic pass
/// (a fixed seed and count); `make fuzz` runs each reader for SYNMIX_FUZZ_SECONDS with a
/// time-based seed, writing each input to SYNMIX_FUZZ_DIR/current-READER before running it,
/// so a crash leaves its reproducer behind.
final class ReaderFuzzTests: XCTestCase {
    /// Executions per reader in the short pass of `make test`.
    static let shortPassExecutions = 400

    func testPNGDecoderSurvivesMutatedImages() throws {
        var seeds: [[UInt8]] = []
        var gray = Raster<UInt8>(width: 17, height: 9, channels: 1)
        for i in gray.samples.indices { gray.samples[i] = UInt8(i * 7 % 256) }
        var rgb = Raster<UInt8>(width: 12, height: 8, channels: 3)
        for i in rgb.samples.indices { rgb.samples[i] = UInt8(i * 13 % 256) }
        var labels = Raster<UInt16>(width: 16, height: 8, channels: 1)
        for i in labels.samples.indices { labels.samples[i] = UInt16(26_000 + i % 3) }
        seeds.append(try PNGCodec.encode(gray, level: 6, filter: .adaptive))
        seeds.append(try PNGCodec.encode(rgb, level: 1, filter: .sub))
        seeds.append(try PNGCodec.encode(labels))
        try fuzz("png", seeds: seeds, structured: false) { bytes in
            _ = try PNGCodec.header(of: Array(bytes.prefix(33)), path: "fuzz.png")
            _ = try PNGCodec.decode(bytes, path: "fuzz.png", options: PNGDecodeOptions(to8Bit: true))
            _ = try PNGCodec.decode(bytes, path: "fuzz.png")
        }
    }

    func testJPEGDecoderSurvivesMutatedImages() throws {
        var rgb = Raster<UInt8>(width: 24, height: 16, channels: 3)
        for i in rgb.samples.indices { rgb.samples[i] = UInt8(i * 5 % 256) }
        var gray = Raster<UInt8>(width: 9, height: 17, channels: 1)
        for i in gray.samples.indices { gray.samples[i] = UInt8(i % 200) }
        try fuzz("jpeg", seeds: [try JPEGCodec.encode(rgb, quality: 90), try JPEGCodec.encode(gray, quality: 50)], structured: false) { bytes in
            _ = try JPEGCodec.decode(bytes, path: "fuzz.jpg")
        }
    }

    func testTarReadersSurviveMutatedShards() throws {
        let json = Array(sampleRecord().json.compact.utf8)
        var shard = Tar.member(name: "a.json", data: json) + Tar.member(name: "a.png", data: try PNGCodec.encode(Raster<UInt8>(width: 4, height: 4, channels: 1)))
        shard += Tar.member(name: "b.json", data: json)
        shard += Tar.trailer(after: shard.count)
        let folder = try temporaryFolder()
        try fuzz("tar", seeds: [shard], structured: false) { bytes in
            _ = Tar.readMembers(bytes)
            let reader = Tar.Reader(bytes: bytes)
            while try reader.next() != nil {}
        } file: { bytes in
            // The trainer's streaming reader, from a file.
            try Files.writeAtomically(bytes, to: "\(folder)/s.tar")
            let reader = try ShardReader(path: "\(folder)/s.tar")
            while reader.next(report: { _ in }) != nil {}
        }
    }

    func testManifestRecordParserSurvivesMutatedLines() throws {
        let lines = manifestRecords().map { Array($0.jsonLine.utf8) }
        try fuzz("manifest", seeds: lines, structured: true) { bytes in
            _ = try ManifestRecord(jsonLine: Substring(decoding: bytes, as: UTF8.self), file: "fuzz.jsonl", line: 1)
        }
    }

    func testSampleRecordParserSurvivesMutatedJSON() throws {
        try fuzz("sample", seeds: [Array(sampleRecord().json.compact.utf8)], structured: true) { bytes in
            _ = try SampleRecord(bytes: bytes, file: "fuzz.json")
        }
    }

    func testShardIndexParserSurvivesMutatedJSON() throws {
        var entry = ShardIndex.Entry(name: "mix-000000.tar")
        (entry.samples, entry.bytes, entry.sha256, entry.firstKey, entry.lastKey) = (2, 10_240, String(repeating: "a", count: 64), "a", "b")
        (entry.domains, entry.classes) = (["real": 2], ["car": 3])
        let taxonomy = try Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml")
        let index = ShardIndex(synmixVersion: "0.1.0", taxonomy: ShardIndex.TaxonomyClasses(taxonomy),
                               plan: .object([("seed", .int(1))]), skipped: 0, shards: [entry])
        try fuzz("index", seeds: [Array(index.json.pretty.utf8)], structured: true) { bytes in
            _ = try ShardIndex(json: try JSON.parse(bytes), file: "index.json")
        }
    }

    func testSynscapesMetaReaderSurvivesMutatedFiles() throws {
        let folder = try temporaryFolder()
        let seeds = try ["1", "2"].map { try Files.read("\(fixturesFolder)/synscapes/meta/\($0).json") }
        try fuzz("meta", seeds: seeds, structured: true) { bytes in
            try Files.writeAtomically(bytes, to: "\(folder)/m.json")
            _ = try SynscapesMeta(path: "\(folder)/m.json")
        }
    }

    func testPredictionFileReaderSurvivesMutatedFiles() throws {
        let folder = try temporaryFolder()
        try Files.createDirectory("\(folder)/masks")
        var mask = Raster<UInt8>(width: 16, height: 8, channels: 1)
        for i in 0..<40 { mask.samples[i] = 255 }
        try Files.writeAtomically(try PNGCodec.encode(mask), to: "\(folder)/masks/a_0.png")
        try Files.writeAtomically(try PNGCodec.encode(mask), to: "\(folder)/masks/a_1.png")
        let seed = Array("masks/a_0.png 26 0.9\nmasks/a_1.png 24 0.25\r\nmasks/a_0.png 33 1e-3".utf8)
        try fuzz("predictions", seeds: [seed], structured: true) { bytes in
            try Files.writeAtomically(bytes, to: "\(folder)/a_pred.txt")
            _ = try CityscapesEvaluation.readPredictions("\(folder)/a_pred.txt", predictionRoot: folder, width: 16, height: 8)
        }
    }

    func testSafetensorsHeaderReaderSurvivesMutatedFiles() throws {
        let weights = Safetensors.Tensor((0..<24).map { Float($0) / 7 }, shape: [2, 3, 2, 2])
        let seeds = [
            Safetensors.serialize(["stem.0.conv.weight": weights, "stem.0.bn.num_batches_tracked": .init([3] as [Int64], shape: [])],
                                  metadata: ["synmix.input": #"{"size":[64,32],"mean":0.5,"std":0.25}"#]),
            Safetensors.serialize(["a": .init([1, 2] as [Float], shape: [2]), "b": .init([Float](), shape: [0, 4])]),
        ]
        try fuzz("safetensors", seeds: seeds, structured: false) { bytes in
            _ = try Safetensors.parse(bytes)
        }
    }

    func testPartIndexParserSurvivesMutatedFiles() throws {
        // A real part 1/1 with its shards: each mutant replaces its index and goes through the whole merge.
        let manifest = try temporaryFolder()
        var harmonize = HarmonizeOptions(dataset: .cityscapes, root: "\(fixturesFolder)/cityscapes", out: manifest,
                                         mappingPath: "\(mappingsFolder)/cityscapes.yaml", taxonomyPath: "\(mappingsFolder)/taxonomy.yaml")
        harmonize.split = .all
        _ = try Harmonizer.run(harmonize)
        let out = try temporaryFolder()
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: manifest)], out: out)
        options.split = .all
        options.shardSamples = 2
        options.partition = Partition("1/1")
        _ = try Packer.run(options)
        let partPath = "\(out)/\(PartIndex.fileName(Partition("1/1")!))"
        let seed = try JSON.parse(try Files.read(partPath)).compact
        try fuzz("part-index", seeds: [Array(seed.utf8)], structured: true) { bytes in
            try Files.writeAtomically(bytes, to: partPath)
            _ = try Packer.merge(out: out)
        }
    }

    // MARK: inputs

    func sampleRecord() -> SampleRecord {
        let record = manifestRecords()[0]
        return SampleRecord(id: record.id, key: Files.safeName(record.id), source: record.source, domain: record.domain, split: record.split,
                            width: record.width, height: record.height, originalWidth: 64, originalHeight: 32, imageFormat: .png,
                            instances: record.instances, ignore: record.ignore)
    }

    func manifestRecords() -> [ManifestRecord] {
        var car = [UInt8](repeating: 0, count: 16 * 8), ignore = car
        for y in 2..<6 { for x in 3..<9 { car[y * 16 + x] = 1 } }
        for x in 0..<16 { ignore[7 * 16 + x] = 1 }
        let instance = InstanceRecord(id: 0, className: "car", isCrowd: false, mask: RLE.encode(mask: car, height: 8, width: 16),
                                      sourceId: 26001, occlusion: 0.25, truncation: 0.5, amodalBBox: [2.5, 1, 8, 6])
        let crowd = InstanceRecord(id: 1, className: "person", isCrowd: true, mask: RLE.encode(mask: ignore, height: 8, width: 16), sourceId: 24)
        return [
            ManifestRecord(id: "synscapes/1", source: "synscapes", domain: .synthetic, split: .train, root: "/data", image: "img/rgb/1.png",
                           width: 16, height: 8, instances: [instance, crowd], ignore: RLE.encode(mask: ignore, height: 8, width: 16)),
            ManifestRecord(id: "cityscapes/val/a", source: "cityscapes", domain: .real, split: .val, root: "/data", image: "a.png",
                           width: 16, height: 8, instances: [], ignore: nil),
        ]
    }

    // MARK: the loop

    /// Mutates the seeds and runs `body` (and `file`, a slower path through a file, every 8th input) on each
    /// mutant. Thrown errors are the expected outcome; a trap ends the process (the reproducer is on disk in
    /// `make fuzz`). Distinct outcomes (error messages without numbers) grow the corpus, a cheap stand-in for coverage.
    func fuzz(_ reader: String, seeds: [[UInt8]], structured: Bool, _ body: ([UInt8]) throws -> Void,
              file: (([UInt8]) throws -> Void)? = nil) throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["SYNMIX_FUZZ_SECONDS"].flatMap(Double.init)
        let crashFolder = environment["SYNMIX_FUZZ_DIR"]
        let seed = seconds == nil ? 20_261_130 : environment["SYNMIX_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970 * 1000)
        var mutator = Mutator(seed: seed &+ UInt64(reader.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude), structured: structured)
        var corpus = seeds
        var outcomes: Set<String> = []
        let started = Date()
        var executions = 0
        func done() -> Bool {
            if let seconds { return Date().timeIntervalSince(started) >= seconds }
            return executions >= Self.shortPassExecutions
        }
        for seedInput in seeds { try body(seedInput) }   // the seeds are valid inputs
        while !done() {
            let input = mutator.mutate(corpus[mutator.index(corpus.count)], donor: corpus[mutator.index(corpus.count)])
            if let crashFolder { try Files.writeAtomically(input, to: "\(crashFolder)/current-\(reader)") }
            var outcome = "ok"
            do { try body(input) } catch { outcome = "\(error)" }
            if let file, executions % 8 == 0 { do { try file(input) } catch { outcome += " | \(error)" } }
            executions += 1
            let shape = String(outcome.filter { !$0.isNumber }.prefix(120))
            if outcomes.insert(shape).inserted && corpus.count < 256 { corpus.append(input) }
        }
        // No input may have made the process grow without bound (the decoders check sizes first).
        let peak = peakResidentMiB()
        XCTAssertLessThan(peak, 1024, "\(reader): peak resident memory \(peak) MiB")
        print("fuzz \(reader): \(executions) executions in \(String(format: "%.1f", Date().timeIntervalSince(started))) s, "
              + "seed \(seed), \(outcomes.count) distinct outcomes, corpus \(corpus.count), peak \(peak) MiB")
    }

    /// VmHWM of this process (Linux), 0 where /proc is not there.
    func peakResidentMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kib / 1024
    }
}

/// Byte- and JSON-level mutations, seeded (the same seed gives the same inputs).
struct Mutator {
    var random: SplitMix64
    let structured: Bool

    init(seed: UInt64, structured: Bool) {
        random = SplitMix64(seed: seed)
        self.structured = structured
    }

    mutating func index(_ count: Int) -> Int { Int(random.next() % UInt64(max(1, count))) }

    static let interestingBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x22, 0x2F, 0x5C]
    static let interestingValues = ["null", "[]", "{}", "\"x\"", "\"\"", "-1", "0", "1.5", "-0.5", "1e308", "-1e308", "4294967296",
                                    "9223372036854775807", "18446744073709551616", "2147483647", "true", "NaN", "[4294967296, 4294967296]",
                                    "{\"size\": [1, 1], \"counts\": \"\"}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"]

    mutating func mutate(_ input: [UInt8], donor: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + index(4)) {
            switch index(structured ? 9 : 7) {
            case 0 where !bytes.isEmpty:   // flip a bit
                let i = index(bytes.count)
                bytes[i] ^= 1 << UInt8(index(8))
            case 1 where !bytes.isEmpty:   // an interesting byte
                bytes[index(bytes.count)] = Self.interestingBytes[index(Self.interestingBytes.count)]
            case 2 where !bytes.isEmpty:   // a big-endian 32-bit field set to an extreme (declared sizes, lengths)
                let i = index(bytes.count)
                let value: UInt32 = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x0001_0000][index(6)]
                for k in 0..<4 where i + k < bytes.count { bytes[i + k] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(k))) }
            case 3:   // truncate
                bytes = Array(bytes.prefix(index(bytes.count + 1)))
            case 4 where !bytes.isEmpty:   // delete a range
                let start = index(bytes.count), length = min(bytes.count - start, 1 + index(16))
                bytes.removeSubrange(start..<start + length)
            case 5:   // insert random bytes
                let at = index(bytes.count + 1)
                bytes.insert(contentsOf: (0..<(1 + index(8))).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: at)
            case 6 where !donor.isEmpty:   // splice in a piece of another input
                let start = index(donor.count), length = min(donor.count - start, 1 + index(64))
                bytes.insert(contentsOf: donor[start..<start + length], at: index(bytes.count + 1))
            case 7:   // replace a JSON value after a ':' with an interesting one (type confusion, range)
                let colons = bytes.indices.filter { bytes[$0] == UInt8(ascii: ":") }
                guard let colon = colons.isEmpty ? nil : colons[index(colons.count)] else { break }
                var end = colon + 1
                var depth = 0
                while end < bytes.count {
                    let c = bytes[end]
                    if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { depth += 1 }
                    if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") { if depth == 0 { break }; depth -= 1 }
                    if c == UInt8(ascii: ","), depth == 0 { break }
                    end += 1
                }
                bytes.replaceSubrange(colon + 1..<end, with: Array(Self.interestingValues[index(Self.interestingValues.count)].utf8))
            case 8:   // line ends: CRLF, a lone CR, or no final newline
                bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\n", with: ["\r\n", "\r", ""][index(3)]).utf8)
            default:
                break
            }
        }
        return bytes
    }
}
