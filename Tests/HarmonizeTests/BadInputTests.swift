import Foundation
import XCTest
@testable import Harmonize
import SynmixCore
import SynmixGenerate
import TestSupport

/// Each bad sample becomes one line in errors.jsonl naming the file; the rest are processed.
final class BadInputTests: XCTestCase {
    func write(_ bytes: [UInt8], _ path: String) throws { try Files.writeAtomically(bytes, to: path) }

    func testBadCityscapesSamplesAreReportedAndSkipped() throws {
        let root = try temporaryFolder()
        let writer = CityscapesWriter(root: root, appearance: .fixtureReal,
                                      policy: AnnotatorPolicy(minVisiblePixels: 0, minVisibleFraction: 0))
        for frame in 0..<5 {
            try writer.write(CityscapesReaderTests.handScene(), split: "train", city: "c", sequence: 0, frame: frame, seed: 1)
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
        try write(Array(#"{"camera": {}, "instance": {"class": {"2400002": 24}}, "scene": {}}"#.utf8), "\(root)/meta/4.json")
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
        try writer.write(CityscapesReaderTests.handScene(), split: "train", city: "c", sequence: 0, frame: 0, seed: 1)
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
