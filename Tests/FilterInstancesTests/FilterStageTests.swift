import Foundation
import XCTest
@testable import FilterInstances
import SynmixCore
import TestSupport
import SynmixFormats

final class FilterStageTests: XCTestCase {
    func writeManifest(_ lines: [String]) throws -> String {
        let folder = try temporaryFolder()
        try (lines.joined(separator: "\n") + "\n").write(toFile: "\(folder)/manifest.jsonl", atomically: true, encoding: .utf8)
        return folder
    }

    func options(_ input: String, _ out: String, thresholds: String = thresholdsText) throws -> FilterOptions {
        let folder = try temporaryFolder()
        try thresholds.write(toFile: "\(folder)/t.yaml", atomically: true, encoding: .utf8)
        return FilterOptions(input: input, out: out, thresholdsPath: "\(folder)/t.yaml", taxonomyPath: taxonomyPath)
    }

    func testStageWritesManifestReportAndThresholds() throws {
        let input = try writeManifest([probeRecord(id: "synscapes/1").jsonLine, probeRecord(id: "synscapes/2").jsonLine])
        let out = try temporaryFolder()
        let result = try FilterStage.run(try options(input, out))
        XCTAssertEqual([result.records, result.kept, result.removed], [2, 8, 8])
        let records = try String(contentsOfFile: "\(out)/manifest.jsonl", encoding: .utf8).split(separator: "\n")
            .enumerated().map { try ManifestRecord(jsonLine: $1, file: "m", line: $0 + 1) }
        XCTAssertEqual(records.map { $0.instances.count }, [4, 4])
        let report = try JSON.parse(try Files.read("\(out)/report.json"))
        XCTAssertEqual(report["classes"]?["car"]?["removed_by_rule"]?["min_area"]?.intValue, 2)
        XCTAssertEqual(report["classes"]?["car"]?["removed_by_rule"]?["max_occlusion"]?.intValue, 2)
        XCTAssertEqual(report["classes"]?["bus"]?["pixels_to_ignore"]?.intValue, 200)
        XCTAssertEqual(report["totals"]?["removed_by_rule"]?["min_visible_fraction"]?.intValue, 2)
        XCTAssertEqual(report["histograms"]?["occlusion_before"]?.arrayValue?.map { $0.intValue! }, [6, 2, 0, 0, 0, 0, 0, 0, 2, 2])   // person 7 has no occlusion
        XCTAssertEqual(report["histograms"]?["without_occlusion_before"]?.intValue, 2)
        let thresholds = try String(contentsOfFile: "\(out)/thresholds.yaml", encoding: .utf8)
        XCTAssertTrue(thresholds.contains("defaults:\n  min_area: 40\n  min_height: 6\n"), thresholds)
        XCTAssertTrue(thresholds.contains("classes:\n  car: {min_area: 100}\n"), thresholds)
        let markdown = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("| car | 8 | 2 | 4 | 4 | 2 | 0 | 0 | 2 | 0 | 0 | 560 |"), markdown)
    }

    func testAClassOutsideTheTaxonomyIsAnErrorNamingTheLineAndTheOtherRecordsAreKept() throws {
        var stranger = probeRecord(id: "synscapes/2")
        stranger.instances[0].className = "spaceship"
        let input = try writeManifest([probeRecord(id: "synscapes/1").jsonLine, stranger.jsonLine, probeRecord(id: "synscapes/3").jsonLine])
        let out = try temporaryFolder()
        let result = try FilterStage.run(try options(input, out))
        XCTAssertEqual(result.records, 2)
        let errors = try String(contentsOfFile: "\(out)/errors.jsonl", encoding: .utf8)
        XCTAssertTrue(errors.contains("has class 'spaceship', which is not an instance class of the taxonomy"), errors)
        XCTAssertTrue(errors.contains("\"line\":2"), errors)
    }

    func testTheInputsFolderAsOutputIsRefusedAndTheInputKept() throws {
        let input = try writeManifest([probeRecord(id: "synscapes/1").jsonLine])
        let before = try Files.read("\(input)/manifest.jsonl")
        XCTAssertThrowsError(try FilterStage.run(try options(input, input))) { error in
            XCTAssertTrue("\(error)".contains("it would overwrite the input"), "\(error)")
        }
        XCTAssertEqual(try Files.read("\(input)/manifest.jsonl"), before)
    }

    func testOutputIsByteIdenticalAcrossRuns() throws {
        let input = try writeManifest((1...3).map { probeRecord(id: "synscapes/\($0)").jsonLine })
        var digests: [[String]] = []
        var opts = try options(input, "")
        for _ in 0..<2 {
            opts.out = try temporaryFolder()
            let out = opts.out
            _ = try FilterStage.run(opts)
            digests.append(try ["manifest.jsonl", "report.json", "report.md", "thresholds.yaml", "errors.jsonl"].map {
                SHA256Hasher.hex(try Files.read("\(out)/\($0)"))
            })
        }
        XCTAssertEqual(digests[0], digests[1])
    }

    func testMalformedLinesAreReportedAndTheRestIsWritten() throws {
        var missing = probeRecord(id: "synscapes/3").jsonLine
        missing = missing.replacingOccurrences(of: #""width":100,"#, with: "")
        let input = try writeManifest([probeRecord(id: "synscapes/1").jsonLine, "{not json", missing, probeRecord(id: "synscapes/4").jsonLine])
        let out = try temporaryFolder()
        let result = try FilterStage.run(try options(input, out))
        XCTAssertEqual(result.records, 2)
        let errors = try String(contentsOfFile: "\(out)/errors.jsonl", encoding: .utf8).split(separator: "\n").map { try JSON.parse($0) }
        XCTAssertEqual(errors.map { $0["line"]!.intValue! }, [2, 3])
        XCTAssertEqual(errors.map { $0["file"]!.stringValue! }, ["\(input)/manifest.jsonl", "\(input)/manifest.jsonl"])
        XCTAssertTrue(errors[0]["reason"]!.stringValue!.hasPrefix("not valid JSON"))
        XCTAssertEqual(errors[1]["reason"]!.stringValue!, "missing or non-integer field 'width'")
        let ids = try String(contentsOfFile: "\(out)/manifest.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSON.parse($0)["id"]!.stringValue! }
        XCTAssertEqual(ids, ["synscapes/1", "synscapes/4"])
    }

    func testCalibrationOnAKnownDistributionYieldsTheNearestRankPercentile() throws {
        // 100 real persons: 1-pixel-wide columns of heights 1…100 (area = height) on 100×200 images.
        let size = (100, 200)
        let records = (0..<10).map { r in
            ManifestRecord(id: "cityscapes/train/c/c_\(r)", source: "cityscapes", domain: .real, split: .train, root: "/r",
                           image: "x.png", width: 100, height: 200,
                           instances: (0..<10).map { k in
                               let height = r * 10 + k + 1
                               return InstanceRecord(id: k, className: "person", isCrowd: false,
                                                     mask: rect(k * 3, 0, 1, height, in: size), sourceId: 24000 + k)
                           } + [InstanceRecord(id: 10, className: "car", isCrowd: true, mask: rect(60, 0, 1, 1, in: size), sourceId: 26)],
                           ignore: nil)
        }
        let real = try writeManifest(records.map(\.jsonLine))
        let calibration = try Calibration(manifest: "\(real)/manifest.jsonl", percentile: 5)
        XCTAssertEqual(calibration.perClass["person"]?.instances, 100)
        XCTAssertEqual(calibration.perClass["person"]?.heightFraction, 5.0 / 200)
        XCTAssertNil(calibration.perClass["car"])   // crowd regions say nothing about annotation policy
        let base = ThresholdTable(defaults: [.minArea: 1, .minHeight: 1])
        let same = calibration.apply(to: base, width: 100, height: 200)
        XCTAssertEqual(same.value(.minArea, for: "person"), 5)
        XCTAssertEqual(same.value(.minHeight, for: "person"), 5)
        XCTAssertEqual(same.value(.minArea, for: "car"), 1)
        let half = calibration.apply(to: base, width: 50, height: 100)   // a quarter of the pixels
        XCTAssertEqual(half.value(.minArea, for: "person"), 1)   // 5 / 20 000 × 5 000 = 1.25
        XCTAssertEqual(half.value(.minHeight, for: "person"), 2) // 5 / 200 × 100 = 2.5

        // Through the stage: thresholds.yaml carries the derived per-class values.
        let input = try writeManifest([probeRecord().jsonLine])
        let out = try temporaryFolder()
        var opts = try options(input, out)
        opts.calibrateFrom = real
        _ = try FilterStage.run(opts)
        let written = try String(contentsOfFile: "\(out)/thresholds.yaml", encoding: .utf8)
        XCTAssertTrue(written.contains("  person: {min_area: 1, min_height: 1}\n"), written)   // 100×50 input: 1.25 → 1, 1.25 → 1
    }

    func testPreviewsShowTheRecordsWithTheMostRemovals() throws {
        let root = try temporaryFolder()
        try Files.createDirectory("\(root)/img/rgb")
        try Files.writeAtomically(try PNGCodec.encode(Raster<UInt8>(width: 100, height: 50, channels: 3, filling: 90)),
                                  to: "\(root)/img/rgb/1.png")
        var few = probeRecord(id: "synscapes/2", root: root)
        few.instances = Array(few.instances.prefix(2))   // one removal
        let input = try writeManifest([probeRecord(id: "synscapes/1", root: root).jsonLine, few.jsonLine])
        let out = try temporaryFolder()
        var opts = try options(input, out)
        opts.previews = 1
        let result = try FilterStage.run(opts)
        XCTAssertEqual(result.previews, ["\(out)/previews/synscapes-1.png"])
        guard case .eightBit(let picture) = try PNGCodec.decode(try Files.read(result.previews[0]), path: "p") else {
            return XCTFail("not an 8-bit PNG")
        }
        XCTAssertEqual(picture.width, 100)
        XCTAssertGreaterThan(picture.height, 50 + 84)   // the image, the zoomed crops (84 px at this width), the legend
        // The first zoomed crop (x 8…92, y 58…142) shows the image, tinted, not the dark background.
        let crop = (100 * 100 + 50) * picture.channels
        XCTAssertNotEqual(Array(picture.samples[crop..<crop + 3]), [25, 25, 25])
        // Inside the removed bus (70…79, 0…9) the picture is no longer the plain gray image.
        let inside = (5 * 100 + 75) * picture.channels
        XCTAssertNotEqual(Array(picture.samples[inside..<inside + 3]), [90, 90, 90])
        let outside = (45 * 100 + 30) * picture.channels
        XCTAssertEqual(Array(picture.samples[outside..<outside + 3]), [90, 90, 90])
    }
}
