import Foundation
import XCTest
@testable import Harmonize
import SynmixCore
import SynmixGenerate
import TestSupport
import SynmixFormats

/// Each bad sample becomes one line in errors.jsonl naming the file; the rest are processed.
final class BadInputTests: XCTestCase {
    func write(_ bytes: [UInt8], _ path: String) throws { try Files.writeAtomically(bytes, to: path) }

    func testBadCityscapesSamplesAreReportedAndSkipped() throws {
        let root = try temporaryFolder()
        let writer = CityscapesWriter(root: root, appearance: .fixtureReal,
                                      policy: AnnotatorPolicy(minVisiblePixels: 0, minVisibleFraction: 0))
        for frame in 0..<5 {
            try writer.write(CityscapesReaderTests.handScene(), split: .train, city: "c", sequence: 0, frame: frame, seed: 1)
        }
        let labels = "\(root)/gtFine/train/c"
        func label(_ frame: Int) -> String { "\(labels)/c_000000_00000\(frame)_gtFine_instanceIds.png" }
        let good = try Files.read(label(0))
        try write(Array("this is not a PNG".utf8), label(1))
        try write(Array(good.prefix(good.count / 2)), label(2))
        try write(try PNGCodec.encode(Raster<UInt16>(width: 32, height: 16, channels: 1, filling: 7)), label(3))
        try write(try PNGCodec.encode(Raster<UInt8>(width: 64, height: 32, channels: 1, filling: 7)), label(4))
        try Files.createDirectory("\(root)/leftImg8bit/train/d")
        try write(try Files.read("\(root)/leftImg8bit/train/c/c_000000_000000_leftImg8bit.png"),
                  "\(root)/leftImg8bit/train/d/d_000000_000000_leftImg8bit.png")

        let out = try temporaryFolder()
        let result = try Harmonizer.run(options(.cityscapes, root: root, out: out))
        XCTAssertEqual(result.written, 1)
        let errors = try readErrors(out)
        XCTAssertEqual(errors.map { $0["file"]! }, [label(1), label(2), label(3), label(4),
                                                    "\(root)/leftImg8bit/train/d/d_000000_000000_leftImg8bit.png"])
        XCTAssertEqual(errors[0]["reason"], "corrupt PNG: not a PNG file (bad signature)")
        XCTAssertTrue(errors[1]["reason"]!.hasPrefix("corrupt PNG: "), errors[1]["reason"]!)
        XCTAssertEqual(errors[2]["reason"], "label is 32x16 but its image is 64x32")
        XCTAssertEqual(errors[3]["reason"], "instanceIds PNG must be 16-bit grayscale, found 8-bit with 1 channel(s)")
        XCTAssertEqual(errors[4]["reason"], "image without its label file \(root)/gtFine/train/d/d_000000_000000_gtFine_instanceIds.png")
        XCTAssertEqual(try readManifest(out).map(\.id), ["cityscapes/train/c/c_000000_000000"])
        let summary = try JSON.parse(try Files.read("\(out)/summary.json"))
        XCTAssertEqual(summary["errors"]?.intValue, 5)
    }

    func testBadSynscapesSamplesAreReportedAndSkipped() throws {
        let root = try temporaryFolder()
        let writer = SynscapesWriter(root: root, appearance: .fixtureSynthetic)
        for number in 1...6 { try writer.write(SynscapesReaderTests.handScene(), number: number, seed: 1) }
        try FileManager.default.removeItem(atPath: "\(root)/meta/2.json")
        try write(Array("{\"instance\": ".utf8), "\(root)/meta/3.json")
        try write(Array(#"""
            {"camera": {}, "instance": {"class": {"2400002": 24}, "occluded": {"2400002": 0}, "truncated": {"2400002": 0},
             "bbox2d": {"2400002": {"xmin": 0, "xmax": 0.5, "ymin": 0, "ymax": 0.5}}}, "scene": {}}
            """#.utf8), "\(root)/meta/4.json")
        var classes = Raster<UInt8>(width: 64, height: 32, channels: 1, filling: 7)
        classes.samples[5] = 200
        try write(try PNGCodec.encode(classes), "\(root)/img/class/5.png")
        try FileManager.default.removeItem(atPath: "\(root)/img/rgb/6.png")

        let out = try temporaryFolder()
        let result = try Harmonizer.run(options(.synscapes, root: root, out: out))
        XCTAssertEqual(result.written, 1)
        let errors = try readErrors(out)
        XCTAssertEqual(errors.count, 5)
        let byFile = Dictionary(uniqueKeysWithValues: errors.map { ($0["file"]!, $0["reason"]!) })
        XCTAssertEqual(byFile["\(root)/img/instance/2.png"], "incomplete sample: missing meta/2.json")
        XCTAssertEqual(byFile["\(root)/meta/3.json"], "malformed meta JSON: unexpected end of input at byte 13")
        XCTAssertEqual(byFile["\(root)/img/instance/4.png"].map { $0.hasSuffix("is absent from \(root)/meta/4.json") }, true)
        XCTAssertEqual(byFile["\(root)/img/class/5.png"], "unknown class id 200 not in \(mappingsFolder)/synscapes.yaml")
        XCTAssertEqual(byFile["\(root)/img/instance/6.png"], "incomplete sample: missing img/rgb/6.png")
        XCTAssertEqual(try readManifest(out).map(\.id), ["synscapes/1"])
    }

    func testSynscapesOcclusionOutsideZeroOneOrOfAnotherTypeIsReportedNotCopied() throws {
        let root = try temporaryFolder()
        let writer = SynscapesWriter(root: root, appearance: .fixtureSynthetic)
        for number in 1...4 { try writer.write(SynscapesReaderTests.handScene(), number: number, seed: 1) }
        // Every instance's occlusion in meta 2, 3 and 4 replaced by a bad value.
        func replacingOcclusion(_ meta: JSON, with value: JSON) -> JSON {
            guard case .object(let top) = meta else { return meta }
            return .object(top.map { key, section in
                guard key == "instance", case .object(let tables) = section else { return (key, section) }
                return (key, .object(tables.map { name, table in
                    guard name == "occluded", case .object(let entries) = table else { return (name, table) }
                    return (name, .object(entries.map { ($0.0, value) }))
                }))
            })
        }
        for (number, value) in [(2, JSON.double(-0.5)), (3, .double(1.5)), (4, .string("high"))] {
            let path = "\(root)/meta/\(number).json"
            try Files.writeAtomically(replacingOcclusion(try JSON.parse(try Files.read(path)), with: value).pretty, to: path)
        }
        let out = try temporaryFolder()
        let result = try Harmonizer.run(options(.synscapes, root: root, out: out))
        XCTAssertEqual(result.written, 1)
        let reasons = try readErrors(out).map { $0["reason"]! }.sorted()
        XCTAssertEqual(reasons.count, 3)
        XCTAssertTrue(reasons.allSatisfy { $0.contains("not a number in [0, 1]") }, "\(reasons)")
        XCTAssertTrue(reasons.contains { $0.contains("is -0.5,") } && reasons.contains { $0.contains("is 1.5,") } && reasons.contains { $0.contains("is \"high\",") }, "\(reasons)")
    }

    /// meta/N.json with `edit` applied to its instance tables (name → entries by instance key).
    func editingInstanceTables(_ path: String, _ edit: (String, [(String, JSON)]) -> [(String, JSON)]?) throws {
        guard case .object(let top) = try JSON.parse(try Files.read(path)) else { return XCTFail("\(path) is not an object") }
        let edited: [(String, JSON)] = top.map { key, section in
            guard key == "instance", case .object(let tables) = section else { return (key, section) }
            return (key, .object(tables.compactMap { name, table in
                guard case .object(let entries) = table else { return (name, table) }
                return edit(name, entries).map { (name, .object($0)) }
            }))
        }
        try Files.writeAtomically(JSON.object(edited).pretty, to: path)
    }

    func testSynscapesMetaWithoutOcclusionTruncationOrAmodalBoxIsANamedErrorAndTheGoodFrameIsKept() throws {
        let root = try temporaryFolder()
        let writer = SynscapesWriter(root: root, appearance: .fixtureSynthetic)
        for number in 1...6 { try writer.write(SynscapesReaderTests.handScene(), number: number, seed: 1) }
        func meta(_ number: Int) -> String { "\(root)/meta/\(number).json" }
        // 2, 3, 4: a table left out; 5, 6: one key with a damaged byte ('0' ^ 0x40 = 'p'), so
        // that instance has no occlusion or truncation although the table is there.
        try editingInstanceTables(meta(2)) { name, entries in name == "occluded" ? nil : entries }
        try editingInstanceTables(meta(3)) { name, entries in name == "truncated" ? nil : entries }
        try editingInstanceTables(meta(4)) { name, entries in name == "bbox2d" ? nil : entries }
        func damagingKey(in table: String) -> (String, [(String, JSON)]) -> [(String, JSON)] {
            { name, entries in
                name != table ? entries : entries.map { ($0.0 == "2600001" ? "2600p01" : $0.0, $0.1) }
            }
        }
        try editingInstanceTables(meta(5), damagingKey(in: "occluded"))
        try editingInstanceTables(meta(6), damagingKey(in: "truncated"))

        let out = try temporaryFolder()
        let result = try Harmonizer.run(options(.synscapes, root: root, out: out))
        XCTAssertEqual(result.written, 1)
        XCTAssertEqual(try readManifest(out).map(\.id), ["synscapes/1"])
        let errors = try readErrors(out)
        XCTAssertEqual(errors.map { $0["file"]! }, (2...6).map(meta))
        XCTAssertEqual(errors.map { $0["reason"]! }, [
            "meta JSON has no instance.occluded table (filter-instances needs every instance's occluded value)",
            "meta JSON has no instance.truncated table (filter-instances needs every instance's truncated value)",
            "meta JSON has no instance.bbox2d table (filter-instances needs every instance's bbox2d value)",
            #"instance.occluded has no entry for instance 2600001; its keys that name no instance: "2600p01""#,
            #"instance.truncated has no entry for instance 2600001; its keys that name no instance: "2600p01""#,
        ])
        // Counted against --max-errors as any other bad frame.
        let summary = try JSON.parse(try Files.read("\(out)/summary.json"))
        XCTAssertEqual(summary["errors"]?.intValue, 5)
    }

    func testImagesAbovePixelBudgetAreRefused() throws {
        let out = try temporaryFolder()
        var opts = options(.cityscapes, root: "\(fixturesFolder)/cityscapes", out: out)
        opts.maxPixels = 512 * 256
        let result = try Harmonizer.run(opts)
        XCTAssertEqual(result.written, 5)
        XCTAssertEqual(result.errors.map(\.reason), ["image is 2048x1024, above the pixel budget of 131072"])
    }

    func testVerifyImagesDecodesTheRGBImage() throws {
        let root = try temporaryFolder()
        let writer = CityscapesWriter(root: root, appearance: .fixtureReal,
                                      policy: AnnotatorPolicy(minVisiblePixels: 0, minVisibleFraction: 0))
        try writer.write(CityscapesReaderTests.handScene(), split: .train, city: "c", sequence: 0, frame: 0, seed: 1)
        let image = "\(root)/leftImg8bit/train/c/c_000000_000000_leftImg8bit.png"
        let bytes = try Files.read(image)
        try write(Array(bytes.prefix(bytes.count - 30)), image)   // header intact, data cut
        XCTAssertEqual(try Harmonizer.run(options(.cityscapes, root: root, out: try temporaryFolder())).written, 1)
        var strict = options(.cityscapes, root: root, out: try temporaryFolder())
        strict.verifyImages = true
        let result = try Harmonizer.run(strict)
        XCTAssertEqual(result.written, 0)
        XCTAssertEqual(result.errors.first?.path, image)
    }
}
