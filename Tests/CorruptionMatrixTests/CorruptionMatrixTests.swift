import Foundation
@testable import Evaluation
@testable import FilterInstances
@testable import Harmonize
@testable import PackMix
import ShardData
import SynmixCore
import TestSupport
import XCTest
import SynmixFormats

/// Valid fixtures broken systematically, each run through the stage that reads it. The expected
/// outcome of every case: the stage finishes, the damaged input is reported by name with a reason
/// and skipped, every other output is byte-identical to a clean run, and no temporary file is
/// left under the output folder. (docs/hostile-input.md lists the counts per reader.)
final class CorruptionMatrixTests: XCTestCase {
    // MARK: images (the Cityscapes label PNG, through harmonize)

    static let label = "gtFine/val/frankfurt/frankfurt_000003_000076_gtFine_instanceIds.png"

    /// Each broken version of one label PNG: name and bytes.
    func labelCorruptions(_ valid: [UInt8]) throws -> [(String, [UInt8])] {
        var cases: [(String, [UInt8])] = []
        for cut in [0, 7, 8, 20, 33, 60, valid.count / 2, valid.count - 12, valid.count - 1] {
            cases.append(("truncated at \(cut)", Array(valid.prefix(cut))))
        }
        for offset in [0, 12, 16, 24, 37, valid.count / 2, valid.count - 8] {
            var flipped = valid
            flipped[offset] ^= 0x5A
            cases.append(("byte \(offset) flipped", flipped))
        }
        for (width, height) in [(UInt32(Int32.max), UInt32(1)), (1, UInt32(Int32.max)), (UInt32.max, UInt32.max), (70_000, 70_000), (0, 256)] {
            cases.append(("IHDR declares \(width)x\(height)", try pngDeclaring(width: width, height: height)))
        }
        cases.append(("8-bit instead of 16-bit", try PNGCodec.encode(Raster<UInt8>(width: 512, height: 256, channels: 1, filling: 7))))
        cases.append(("16-bit of another size", try PNGCodec.encode(Raster<UInt16>(width: 256, height: 128, channels: 1))))
        cases.append(("RGB instead of gray", try PNGCodec.encode(Raster<UInt8>(width: 512, height: 256, channels: 3))))
        cases.append(("a JPEG named .png", try JPEGCodec.encode(Raster<UInt8>(width: 512, height: 256, channels: 3))))
        return cases
    }

    func testEveryBrokenLabelPNGIsSkippedAndTheOtherFramesAreUnchanged() throws {
        let clean = try harmonizedLines(cityscapesRoot(), dataset: .cityscapes)
        let valid = try Files.read("\(fixturesFolder)/cityscapes/\(Self.label)")
        let cases = try labelCorruptions(valid)
        for (name, bytes) in cases {
            let root = try cityscapesRoot()
            try Files.writeAtomically(bytes, to: "\(root)/\(Self.label)")
            try expectOneSkip(of: "\(root)/\(Self.label)", name, clean: clean, root: root, dataset: .cityscapes)
        }
        // Not a regular file: a directory and a named pipe in its place (refused without waiting).
        for kind in ["directory", "named pipe"] {
            let root = try cityscapesRoot()
            unlink("\(root)/\(Self.label)")
            if kind == "directory" { try Files.createDirectory("\(root)/\(Self.label)") } else { mkfifo("\(root)/\(Self.label)", 0o644) }
            try expectOneSkip(of: "\(root)/\(Self.label)", kind, clean: clean, root: root, dataset: .cityscapes)
        }
        XCTAssertEqual(cases.count + 2, 27)
    }

    // MARK: Synscapes meta JSON (through harmonize)

    func metaCorruptions(_ valid: String) -> [(String, String)] {
        func replacing(_ a: String, _ b: String) -> String { valid.replacingOccurrences(of: a, with: b) }
        return [
            ("empty file", ""),
            ("truncated", String(valid.prefix(valid.count / 2))),
            ("not JSON", "meta"),
            ("an array at the top", "[\(valid)]"),
            ("no instance table", #"{"camera": {}}"#),
            ("class table as an array", replacing(#""class": {"#, #""class": [{"#).replacingOccurrences(of: "}, \"occluded\"", with: "}], \"occluded\"")),
            ("deep nesting", String(repeating: "[", count: 100_000)),
            ("occlusion -0.5", replacingFirstValue(of: "occluded", in: valid, with: "-0.5")),
            ("occlusion 1.5", replacingFirstValue(of: "occluded", in: valid, with: "1.5")),
            ("occlusion a string", replacingFirstValue(of: "occluded", in: valid, with: "\"high\"")),
            ("occlusion null", replacingFirstValue(of: "occluded", in: valid, with: "null")),
            ("truncation 2", replacingFirstValue(of: "truncated", in: valid, with: "2")),
            ("class a string", replacingFirstValue(of: "class", in: valid, with: "\"car\"")),
            ("a bbox2d without xmin", replacing(#""xmin""#, #""x_min""#)),
            ("invalid UTF-8", String(decoding: Array(valid.utf8.prefix(40)) + [0xC3, 0x28] + Array(valid.utf8.dropFirst(40)), as: UTF8.self)),
            // A value filter-instances needs, missing: the frame is an error, not an instance left unjudged.
            ("no occluded table", replacing(#""occluded": {"#, #""occlusion": {"#)),
            ("no truncated table", replacing(#""truncated": {"#, #""truncation": {"#)),
            ("an occluded key with a damaged byte", damagingFirstKey(of: "occluded", in: valid)),
        ]
    }

    /// The first instance key in the `table` object with one digit's byte damaged ('0' ^ 0x40 = 'p').
    func damagingFirstKey(of table: String, in text: String) -> String {
        guard let start = text.range(of: "\"\(table)\": {"),
              let zero = text[start.upperBound...].firstIndex(of: "0") else { return text }
        return text.replacingCharacters(in: zero...zero, with: "p")
    }

    /// The first value in the `table` object of instance entries replaced with `value`.
    func replacingFirstValue(of table: String, in text: String, with value: String) -> String {
        guard let start = text.range(of: "\"\(table)\": {") else { return text }
        guard let colon = text[start.upperBound...].firstIndex(of: ":") else { return text }
        let valueStart = text.index(after: colon)
        guard let end = text[valueStart...].firstIndex(where: { $0 == "," || $0 == "}" }) else { return text }
        return text.replacingCharacters(in: valueStart..<end, with: " " + value)
    }

    func testEveryBrokenSynscapesMetaIsSkippedAndTheOtherFramesAreUnchanged() throws {
        let clean = try harmonizedLines(synscapesRoot(), dataset: .synscapes)
        let valid = String(decoding: try Files.read("\(fixturesFolder)/synscapes/meta/3.json"), as: UTF8.self)
        let cases = metaCorruptions(valid)
        for (name, text) in cases {
            XCTAssertNotEqual(text, valid, name)
            let root = try synscapesRoot()
            try Files.writeAtomically(text, to: "\(root)/meta/3.json")
            try expectOneSkip(of: "\(root)/meta/3.json", name, clean: clean, root: root, dataset: .synscapes)
        }
        XCTAssertEqual(cases.count, 18)
    }

    // MARK: manifest lines (through filter-instances and pack-mix)

    func lineCorruptions(_ line: String) -> [(String, String)] {
        func field(_ key: String, _ value: String) -> String { replacingFirstValue(ofKey: key, in: line, with: value) }
        var cases: [(String, String)] = [("not JSON", "{not json"), ("truncated", String(line.prefix(line.count / 2))),
                                         ("an array", "[\(line)]"), ("empty object", "{}")]
        for key in ["id", "source", "domain", "split", "root", "image"] {
            cases += [("\(key) a number", field(key, "7")), ("\(key) null", field(key, "null"))]
        }
        for key in ["width", "height"] {
            cases += [("\(key) a string", field(key, "\"512\"")), ("\(key) 0", field(key, "0")), ("\(key) -1", field(key, "-1")),
                      ("\(key) 2^32", field(key, "4294967296")), ("\(key) 1.5", field(key, "1.5"))]
        }
        cases += [("instances an object", field("instances", "{}")), ("instances null", field("instances", "null")),
                  ("mask size 2^32 x 2^32", line.replacingOccurrences(of: "\"size\":[256,512]", with: "\"size\":[4294967296,4294967296]")),
                  ("mask counts a number", field("counts", "5")), ("mask counts garbage", field("counts", "\"~~~~\"")),
                  ("class a number", field("class", "3")), ("class outside the taxonomy", field("class", "\"caravan\"")),
                  ("iscrowd a string", field("iscrowd", "\"no\"")),
                  ("occlusion 1.5", field("occlusion", "1.5")), ("occlusion a string", field("occlusion", "\"x\"")),
                  ("truncation -0.5", field("truncation", "-0.5")), ("amodal_bbox a string", field("amodal_bbox", "\"box\"")),
                  ("ignore missing", line.replacingOccurrences(of: ",\"ignore\":", with: ",\"ignored\":"))]
        return cases
    }

    func replacingFirstValue(ofKey key: String, in text: String, with value: String) -> String {
        guard let start = text.range(of: "\"\(key)\":") else { return text }
        var end = start.upperBound
        var depth = 0, inString = false
        while end < text.endIndex {
            let c = text[end]
            if c == "\"" { inString.toggle() }
            if !inString {
                if c == "[" || c == "{" { depth += 1 }
                if c == "]" || c == "}" { if depth == 0 { break }; depth -= 1 }
                if c == ",", depth == 0 { break }
            }
            end = text.index(after: end)
        }
        return text.replacingCharacters(in: start.upperBound..<end, with: value)
    }

    func testEveryBrokenManifestLineIsSkippedByFilterAndPackWithItsLineNumber() throws {
        let source = try readManifest(try harmonizedFolder(cityscapesRoot(), dataset: .cityscapes))
        let lines = source.map(\.jsonLine)
        let target = try XCTUnwrap(lines.firstIndex { $0.contains("\"occlusion\"") } ?? lines.firstIndex { $0.contains("\"size\":[256,512]") && $0.contains("\"class\"") })
        let cases = lineCorruptions(lines[target]).filter { $0.1 != lines[target] }
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        let taxonomy = try Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml")
        let cleanFolder = try temporaryFolder()
        try Files.writeAtomically(lines.map { $0 + "\n" }.joined(), to: "\(cleanFolder)/manifest.jsonl")
        let cleanFilter = try filteredLines(cleanFolder)
        let cleanPack = try packedSamples(cleanFolder, taxonomy: taxonomy)
        for (name, broken) in cases {
            let folder = try temporaryFolder()
            var edited = lines
            edited[target] = broken
            try Files.writeAtomically(edited.map { $0 + "\n" }.joined(), to: "\(folder)/manifest.jsonl")

            let out = try temporaryFolder()
            var options = FilterOptions(input: folder, out: out, thresholdsPath: "\(mappingsFolder)/filters/default.yaml",
                                        taxonomyPath: "\(mappingsFolder)/taxonomy.yaml")
            options.jobs = 2
            let filtered = try FilterStage.run(options)
            XCTAssertEqual(filtered.errors.map(\.line), [target + 1], name)
            XCTAssertEqual(filtered.errors.map(\.file), ["\(folder)/manifest.jsonl"], name)
            var expected = cleanFilter
            expected.remove(at: target)
            XCTAssertEqual(try filteredLines(folder, out: out, run: false), expected, name)
            XCTAssertEqual(temporaryFiles(out), [], name)

            let packed = try packedSamples(folder, taxonomy: taxonomy)
            XCTAssertEqual(packed.errors.count, 1, name)
            XCTAssertTrue(packed.errors.first?.path.hasSuffix("manifest.jsonl") ?? false, name)
            XCTAssertEqual(packed.samples, cleanPack.samples.filter { $0.key != Files.safeName(source[target].id) }, name)
        }
        // Line ends the official tools accept: CRLF everywhere and no final newline give the clean output.
        for (name, text) in [("CRLF", lines.map { $0 + "\r\n" }.joined()), ("no final newline", lines.joined(separator: "\n"))] {
            let folder = try temporaryFolder()
            try Files.writeAtomically(text, to: "\(folder)/manifest.jsonl")
            XCTAssertEqual(try filteredLines(folder), cleanFilter, name)
        }
    }

    // MARK: shards (through pack-mix verify and the trainer's reader)

    func testEveryBrokenShardIsNamedByVerifyAndItsIntactSamplesStillStream() throws {
        let folder = try temporaryFolder()
        try Files.writeAtomically(try readManifest(try harmonizedFolder(cityscapesRoot(), dataset: .cityscapes)).map { $0.jsonLine + "\n" }.joined(),
                                  to: "\(folder)/manifest.jsonl")
        let shards = try temporaryFolder()
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: folder)], out: shards)
        options.split = .all
        options.shardSamples = 3
        let packed = try Packer.run(options)
        XCTAssertEqual(packed.shards.count, 2)
        let first = "\(shards)/\(packed.shards[0])"
        let valid = try Files.read(first)
        let members = try Tar.read(valid)
        let allKeys = try streamedKeys(shards)
        func header(_ member: Int) -> Int { 512 * members[..<member].reduce(0) { $0 + 1 + ($1.data.count + 511) / 512 } }
        var cases: [(String, [UInt8])] = []
        for cut in [100, 512, 1024, valid.count / 2, header(members.count - 1) + 100] { cases.append(("truncated at \(cut)", Array(valid.prefix(cut)))) }
        for (name, offset) in [("a header's checksum", header(2) + 150), ("a name byte", header(2) + 3), ("a size field", header(1) + 126)] {
            var flipped = valid
            flipped[offset] ^= 0x5A
            cases.append((name + " flipped", flipped))
        }
        for field in ["-0000000001", "77777777777", "0000000001x"] {
            var abused = valid
            let at = header(1) + 124
            for (k, byte) in Array(field.utf8).enumerated() { abused[at + k] = byte }
            let sum = abused[header(1)..<header(1) + 512].enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
            for (k, byte) in Array(String(format: "%06o\0 ", sum).utf8).enumerated() { abused[header(1) + 148 + k] = byte }
            cases.append(("size field \(field)", abused))
        }
        var image = valid
        let png = header(1) + 512
        for i in png + 40..<png + 80 { image[i] ^= 0x33 }
        cases.append(("an image's bytes garbled", image))
        cases.append(("the first sample twice", Array(valid[..<header(2)]) + valid))
        for (name, bytes) in cases {
            try Files.writeAtomically(bytes, to: first)
            let (_, problems) = try Verifier.verify(shards)
            XCTAssertFalse(problems.isEmpty, name)
            XCTAssertTrue(problems.allSatisfy { $0.shard == packed.shards[0] }, "\(name): \(problems)")
            // The trainer's reader reports the damage and keeps every intact sample of both shards.
            var reported: [FileError] = []
            let keys = try streamedKeys(shards) { reported.append($0) }
            XCTAssertTrue(Set(keys).isSubset(of: Set(allKeys)) || name.hasPrefix("the first sample twice"), name)
            XCTAssertTrue(keys.contains(allKeys.last!), name)   // the second shard is untouched
            XCTAssertFalse(reported.isEmpty && keys.count == allKeys.count && name != "the first sample twice", name)
        }
        try Files.writeAtomically(valid, to: first)
        XCTAssertEqual(try Verifier.verify(shards).problems, [])
        XCTAssertEqual(cases.count, 13)
    }

    // MARK: prediction files (through the evaluator)

    func testEveryBrokenPredictionFileIsSkippedWithItsLineAndTheRestScoreAsBefore() throws {
        let root = try temporaryFolder()
        try FileManager.default.createSymbolicLink(atPath: "\(root)/gtFine", withDestinationPath: "\(fixturesFolder)/cityscapes/gtFine")
        let results = "\(root)/results"
        try Files.createDirectory("\(results)/masks")
        var mask = Raster<UInt8>(width: 512, height: 256, channels: 1)
        for y in 100..<140 { for x in 200..<260 { mask.samples[y * 512 + x] = 255 } }
        try Files.writeAtomically(try PNGCodec.encode(mask), to: "\(results)/masks/m.png")
        let frames = ["frankfurt_000003_000076", "frankfurt_000004_000095"]
        for frame in frames { try Files.writeAtomically("masks/m.png 26 0.75\n", to: "\(results)/\(frame)_pred.txt") }
        var options = CityscapesEvaluation.Options(groundTruth: root, predictions: results)
        options.skipBad = true
        let clean = try CityscapesEvaluation.load(options)
        XCTAssertEqual(clean.skipped, [])
        let cases: [(String, String)] = [
            ("two fields", "masks/m.png 26\n"), ("a tab", "masks/m.png\t26\t0.5\n"), ("score NaN", "masks/m.png 26 nan\n"),
            ("score inf", "masks/m.png 26 inf\n"), ("label a word", "masks/m.png car 0.5\n"), ("unknown label", "masks/m.png 99 0.5\n"),
            ("label beyond Int (found by make fuzz)", "masks/m.png 28E56 0.5\n"),
            ("absolute mask path", "/etc/passwd 26 0.5\n"), ("escapes the folder", "../results-other/m.png 26 0.5\n"),
            ("missing mask", "masks/none.png 26 0.5\n"), ("mask not a PNG", "\(frames[0])_pred.txt 26 0.5\n"),
        ]
        for (name, text) in cases {
            try Files.writeAtomically(text, to: "\(results)/\(frames[0])_pred.txt")
            let loaded = try CityscapesEvaluation.load(options)
            XCTAssertEqual(loaded.skipped.count, 1, name)
            XCTAssertEqual(loaded.skipped.first?.file, "\(results)/\(frames[0])_pred.txt", name)
            XCTAssertEqual(loaded.skipped.first?.line, 1, name)
            XCTAssertEqual(loaded.images.count, clean.images.count - 1, name)
        }
        // CRLF and a missing final newline are read as the official script reads them.
        for text in ["masks/m.png 26 0.75\r\n", "masks/m.png 26 0.75"] {
            try Files.writeAtomically(text, to: "\(results)/\(frames[0])_pred.txt")
            XCTAssertEqual(try CityscapesEvaluation.load(options).skipped, [])
        }
        XCTAssertEqual(cases.count, 11)
    }

    // MARK: peak memory

    /// An image whose header declares 2³¹−1 × 1 pixels costs nothing: every stage that decodes
    /// PNGs refuses it from the header, so its peak memory stays at its normal working set.
    func testAHugeDeclaredImageDoesNotRaiseAnyStagesPeakMemory() throws {
        guard let harmonize = builtExecutable("harmonize"), let packMix = builtExecutable("pack-mix") else {
            return XCTFail("the stage executables are not built (run `swift build --build-tests`)")
        }
        let huge = try pngDeclaring(width: UInt32(Int32.max), height: 1)
        var peaks: [String: Int] = [:]
        for broken in [false, true] {
            let root = try cityscapesRoot()
            if broken { try Files.writeAtomically(huge, to: "\(root)/\(Self.label)") }
            let out = try temporaryFolder()
            let run = try runMeasuringPeakMemory(harmonize, ["--dataset", "cityscapes", "--root", root, "--out", out, "--max-errors", "1", "--jobs", "2"])
            XCTAssertEqual(run.status, 0)
            peaks["harmonize \(broken)"] = run.peakMiB
            // pack-mix decodes (to resize) every image, the huge one included.
            if broken {
                let records = try readManifest(out)
                var edited = records
                edited[0].image = "huge.png"
                edited[0].root = root
                try Files.writeAtomically(huge, to: "\(root)/huge.png")
                try Files.writeAtomically(edited.map { $0.jsonLine + "\n" }.joined(), to: "\(out)/manifest.jsonl")
            }
            let pack = try runMeasuringPeakMemory(packMix, ["--real", out, "--split", "all", "--scale", "0.5", "--out", try temporaryFolder(),
                                                            "--max-errors", "1", "--jobs", "2"])
            XCTAssertEqual(pack.status, 0)
            peaks["pack-mix \(broken)"] = pack.peakMiB
        }
        for stage in ["harmonize", "pack-mix"] {
            let normal = try XCTUnwrap(peaks["\(stage) false"]), hostile = try XCTUnwrap(peaks["\(stage) true"])
            XCTAssertLessThan(hostile, normal + 32, "\(stage): \(hostile) MiB with the huge header, \(normal) MiB without")
        }
    }

    /// The same for the trainer (a shard's image member) and the evaluator (a prediction mask).
    func testAHugeDeclaredImageDoesNotRaiseTheTrainersOrTheEvaluatorsPeakMemory() throws {
        let trainer = "\(repositoryRoot)/.build/release/train-shards"
        guard FileManager.default.isExecutableFile(atPath: trainer) else { return XCTFail("run `make test`: it builds the release trainer") }
        let huge = try pngDeclaring(width: UInt32(Int32.max), height: 1)
        // Shards of the Cityscapes fixtures at 256×128; the hostile copy has one image member replaced.
        let manifest = try harmonizedFolder(cityscapesRoot(), dataset: .cityscapes)
        let clean = try temporaryFolder()
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: manifest)], out: clean)
        options.split = .all
        options.shardSamples = 3
        options.sample.maxSize = (256, 128)
        options.sample.imageFormat = .png
        let shards = try Packer.run(options).shards
        let hostile = try temporaryFolder()
        for shard in shards {
            var members = try Tar.read(try Files.read("\(clean)/\(shard)"))
            if shard == shards[0], let png = members.firstIndex(where: { $0.name.hasSuffix(".png") }) {
                members[png].data = huge[...]
            }
            let bytes = members.flatMap { Tar.member(name: $0.name, data: Array($0.data)) }
            try Files.writeAtomically(bytes + Tar.trailer(after: bytes.count), to: "\(hostile)/\(shard)")
        }
        var peaks: [Int] = []
        for folder in [clean, hostile] {
            let run = try runMeasuringPeakMemory(trainer, ["fit", "--train", "\(folder)/mix-*.tar", "--out", try temporaryFolder(),
                                                           "--steps", "3", "--batch", "2", "--jobs", "2", "--max-errors", "10"])
            XCTAssertEqual(run.status, 0)
            peaks.append(run.peakMiB)
        }
        XCTAssertLessThan(peaks[1], peaks[0] + 32, "fit: \(peaks[1]) MiB with the huge header, \(peaks[0]) MiB without")

        // The evaluator: one prediction whose mask PNG declares 2³¹−1 × 1 pixels.
        let root = try temporaryFolder()
        try FileManager.default.createSymbolicLink(atPath: "\(root)/gtFine", withDestinationPath: "\(fixturesFolder)/cityscapes/gtFine")
        var mask = Raster<UInt8>(width: 512, height: 256, channels: 1)
        for i in 0..<4000 { mask.samples[i] = 255 }
        peaks = []
        for maskBytes in [try PNGCodec.encode(mask), huge] {
            let results = try temporaryFolder()
            try Files.createDirectory("\(results)/masks")
            try Files.writeAtomically(maskBytes, to: "\(results)/masks/m.png")
            try Files.writeAtomically("masks/m.png 26 0.75\n", to: "\(results)/frankfurt_000003_000076_pred.txt")
            try Files.writeAtomically("", to: "\(results)/frankfurt_000004_000095_pred.txt")
            let run = try runMeasuringPeakMemory(trainer, ["evaluate", "--cityscapes-gt", root, "--predictions", results, "--skip-bad",
                                                           "--max-errors", "1"])
            XCTAssertEqual(run.status, 0)
            peaks.append(run.peakMiB)
        }
        XCTAssertLessThan(peaks[1], peaks[0] + 32, "evaluate: \(peaks[1]) MiB with the huge header, \(peaks[0]) MiB without")
    }

    // MARK: helpers

    func cityscapesRoot() throws -> String {
        let root = try temporaryFolder(#function + UUID().uuidString)
        for folder in ["leftImg8bit", "gtFine"] {
            try FileManager.default.copyItem(atPath: "\(fixturesFolder)/cityscapes/\(folder)", toPath: "\(root)/\(folder)")
        }
        return root
    }

    func synscapesRoot() throws -> String {
        let root = try temporaryFolder(#function + UUID().uuidString)
        for folder in ["img", "meta"] {
            try FileManager.default.copyItem(atPath: "\(fixturesFolder)/synscapes/\(folder)", toPath: "\(root)/\(folder)")
        }
        return root
    }

    func harmonizeOptions(_ root: String, dataset: Dataset, out: String) -> HarmonizeOptions {
        var options = HarmonizeOptions(dataset: dataset, root: root, out: out, mappingPath: "\(mappingsFolder)/\(dataset.rawValue).yaml",
                                       taxonomyPath: "\(mappingsFolder)/taxonomy.yaml")
        options.split = .all
        options.jobs = 2
        return options
    }

    func harmonizedFolder(_ root: String, dataset: Dataset) throws -> String {
        let out = try temporaryFolder()
        _ = try Harmonizer.run(harmonizeOptions(root, dataset: dataset, out: out))
        return out
    }

    /// Manifest lines by record id, with the dataset root taken out (each case has its own copy).
    func harmonizedLines(_ root: String, dataset: Dataset) throws -> [String: String] {
        let out = try harmonizedFolder(root, dataset: dataset)
        return Dictionary(uniqueKeysWithValues: try readManifest(out).map { ($0.id, $0.jsonLine.replacingOccurrences(of: root, with: "ROOT")) })
    }

    func expectOneSkip(of file: String, _ name: String, clean: [String: String], root: String, dataset: Dataset) throws {
        let out = try temporaryFolder()
        let result = try Harmonizer.run(harmonizeOptions(root, dataset: dataset, out: out))
        XCTAssertEqual(result.errors.map(\.path), [file], name)
        XCTAssertFalse(result.errors.first?.reason.isEmpty ?? true, name)
        let lines = Dictionary(uniqueKeysWithValues: try readManifest(out).map { ($0.id, $0.jsonLine.replacingOccurrences(of: root, with: "ROOT")) })
        XCTAssertEqual(lines.count, clean.count - 1, name)
        for (id, line) in lines { XCTAssertEqual(line, clean[id], "\(name): \(id)") }
        XCTAssertEqual(temporaryFiles(out), [], name)
    }

    func filteredLines(_ input: String, out: String? = nil, run: Bool = true) throws -> [String] {
        let out = try out ?? temporaryFolder()
        if run {
            _ = try FilterStage.run(FilterOptions(input: input, out: out, thresholdsPath: "\(mappingsFolder)/filters/default.yaml",
                                                  taxonomyPath: "\(mappingsFolder)/taxonomy.yaml"))
        }
        return try readManifest(out).map(\.jsonLine)
    }

    func packedSamples(_ input: String, taxonomy: Taxonomy) throws -> (samples: [String: [UInt8]], errors: [FileError]) {
        let out = try temporaryFolder()
        var options = PackOptions(inputs: [PackInput(name: "real", manifest: input)], out: out)
        options.split = .all
        options.taxonomy = taxonomy
        let result = try Packer.run(options)
        var samples: [String: [UInt8]] = [:]
        for shard in result.shards {
            for member in try Tar.read(try Files.read("\(out)/\(shard)")) { samples[String(member.sampleKey), default: []] += member.data }
        }
        XCTAssertEqual(temporaryFiles(out), [])
        return (samples, result.errors)
    }

    func streamedKeys(_ folder: String, report: (FileError) -> Void = { _ in }) throws -> [String] {
        let shards = Files.list(folder).filter { $0.hasSuffix(".tar") }.sorted().map { "\(folder)/\($0)" }
        var keys: [String] = []
        // As the trainer reads them: streamed, then decoded (a sample that does not decode is reported).
        try ShardStream(shards: shards, bufferSize: 1, seed: 0, shuffle: false).forEach(epoch: 0, report: report) { sample in
            do {
                keys.append(try DecodedSample(sample).key)
            } catch let error as FileError { report(error) }
            return true
        }
        return keys
    }

    func temporaryFiles(_ folder: String) -> [String] {
        Files.list(folder).filter { $0.hasSuffix(".tmp") || $0.contains(".tmp.") }
    }
}
