import XCTest
@testable import Harmonize
import SynmixCore
import SynmixGenerate
import TestSupport
import SynmixFormats

/// A 64×32 frame drawn from rectangles, so that every area is countable by hand.
final class CityscapesReaderTests: XCTestCase {
    static func handScene() -> Scene {
        Scene(width: 64, height: 32,
              stuff: [box(0, 0, 64, 32, label: 7)],
              objects: [   // far to near
                  SceneObject(metaClass: 29, parts: [box(40, 10, 50, 14, label: 29)], depth: 60),   // caravan, 40 px
                  SceneObject(metaClass: 26, parts: [box(40, 2, 50, 6, label: 26)], depth: 50, annotation: .group),  // 40 px
                  SceneObject(metaClass: 26, parts: [box(2, 2, 12, 8, label: 26)], depth: 40),     // car A, 60 px
                  SceneObject(metaClass: 26, parts: [box(20, 4, 30, 12, label: 26)], depth: 30),   // car B, 80 px, 18 hidden
                  SceneObject(metaClass: 33, parts: [box(52, 16, 62, 24, label: 33),               // bicycle 80 px, 16 hidden
                                                     box(55, 10, 59, 20, label: 25)], depth: 20),  // rider 40 px
                  SceneObject(metaClass: 24, parts: [box(25, 6, 28, 16, label: 24)], depth: 10),   // person, 30 px
              ],
              overlays: [box(0, 28, 64, 32, label: 1)])                                          // ego vehicle, 256 px
    }

    func writeHandDataset() throws -> String {
        let root = try temporaryFolder()
        let writer = CityscapesWriter(root: root, appearance: .fixtureReal,
                                      policy: AnnotatorPolicy(minVisiblePixels: 0, minVisibleFraction: 0))
        try writer.write(Self.handScene(), split: .train, city: "handcity", sequence: 0, frame: 19, seed: 1)
        return root
    }

    func testInstancesCrowdAndIgnoreFollowTheMapping() throws {
        let root = try writeHandDataset(), out = try temporaryFolder()
        let result = try Harmonizer.run(options(.cityscapes, root: root, out: out))
        XCTAssertEqual(result.written, 1)
        XCTAssertEqual(result.errors, [])
        let record = try XCTUnwrap(readManifest(out).first)
        XCTAssertEqual(record.id, "cityscapes/train/handcity/handcity_000000_000019")
        XCTAssertEqual(record.image, "leftImg8bit/train/handcity/handcity_000000_000019_leftImg8bit.png")
        XCTAssertEqual(record.domain, .real)
        XCTAssertEqual([record.width, record.height], [64, 32])
        // Ascending source id: the car group (26) first, then 24000, 25000, 26000, 26001, 33000.
        XCTAssertEqual(record.instances.map(\.sourceId), [26, 24000, 25000, 26000, 26001, 33000])
        XCTAssertEqual(record.instances.map(\.className), ["car", "person", "rider", "car", "car", "bicycle"])
        XCTAssertEqual(record.instances.map(\.isCrowd), [true, false, false, false, false, false])
        XCTAssertEqual(record.instances.map(\.area), [40, 30, 40, 60, 62, 64])
        XCTAssertEqual(record.instances.map(\.id), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(record.instances[3].bbox, [2, 2, 10, 6])
        XCTAssertEqual(record.instances[4].bbox, [20, 4, 10, 8])   // car B keeps its box: hidden pixels are inside
        XCTAssertNil(record.instances[0].occlusion)                 // real data has no occlusion attribute
        // Ignore = the caravan (40 px) + the ego vehicle (256 px).
        XCTAssertEqual(record.ignore?.area, 296)
        let ignoreMask = try XCTUnwrap(record.ignore).decode()
        XCTAssertEqual(ignoreMask[12 * 64 + 45], 1)   // inside the caravan
        XCTAssertEqual(ignoreMask[30 * 64 + 5], 1)    // on the hood
        XCTAssertEqual(ignoreMask[3 * 64 + 45], 0)    // the car group is crowd, not ignore
    }

    func testManifestLineHasTheDocumentedKeyOrder() throws {
        let root = try writeHandDataset(), out = try temporaryFolder()
        _ = try Harmonizer.run(options(.cityscapes, root: root, out: out))
        let line = try String(contentsOfFile: "\(out)/manifest.jsonl", encoding: .utf8)
        XCTAssertTrue(line.hasPrefix(#"{"id":"cityscapes/train/handcity/handcity_000000_000019","source":"cityscapes","domain":"real","split":"train","root":""#))
        XCTAssertTrue(line.contains(#""width":64,"height":32,"instances":[{"id":0,"class":"car","iscrowd":1,"area":40,"bbox":[40,2,10,4],"mask":{"size":[32,64],"counts":""#))
        XCTAssertTrue(line.hasSuffix("}\n"))
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)
    }

    func testSplitOptionSelectsOneSplit() throws {
        let out = try temporaryFolder()
        var opts = options(.cityscapes, root: "\(fixturesFolder)/cityscapes", out: out)
        opts.split = .val
        let result = try Harmonizer.run(opts)
        XCTAssertEqual(result.written, 2)
        XCTAssertEqual(Set(try readManifest(out).map(\.split)), [.val])
    }

    func testTestSplitFramesHaveOnlyIgnoreRegions() throws {
        let out = try temporaryFolder()
        var opts = options(.cityscapes, root: "\(fixturesFolder)/cityscapes", out: out)
        opts.split = .test
        _ = try Harmonizer.run(opts)
        let record = try XCTUnwrap(readManifest(out).first)
        XCTAssertEqual(record.instances.count, 0)
        XCTAssertEqual(record.ignore?.area, 512 * 256)   // unlabeled + ego vehicle + border: all void
    }
}
