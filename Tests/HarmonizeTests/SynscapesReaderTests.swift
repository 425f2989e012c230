import XCTest
@testable import Harmonize
import SynmixCore
import SynmixGenerate
import TestSupport
import SynmixFormats

final class SynscapesReaderTests: XCTestCase {
    /// A 64×32 rendered frame; ids are class·100000 + k, k counting per class far to near.
    static func handScene() -> Scene {
        var stray = SceneObject(metaClass: 26, parts: [box(30, 20, 34, 24, label: 26)], depth: 70)   // 16 px, no instance id
        stray.annotation = .unlabeled
        return Scene(width: 64, height: 32,
                     stuff: [box(0, 0, 64, 32, label: 7)],
                     objects: [
                         stray,
                         SceneObject(metaClass: 26, parts: [box(2, 2, 22, 12, label: 26)], depth: 30),   // 2600001, 200 px, 20 visible
                         SceneObject(metaClass: 24, parts: [box(10, 4, 14, 10, label: 24)], depth: 20),  // 2400001, hidden by the bus
                         SceneObject(metaClass: 24, parts: [box(60, 0, 70, 10, label: 24)], depth: 15),  // 2400002, 60 % outside
                         SceneObject(metaClass: 33, parts: [box(52, 16, 62, 24, label: 33),              // 3300001 bicycle 64 px
                                                            box(55, 10, 59, 20, label: 25)], depth: 12), //         rider 40 px
                         SceneObject(metaClass: 28, parts: [box(4, 0, 24, 14, label: 28)], depth: 10),   // 2800001, 280 px
                     ])
    }

    func writeHandDataset(numbers: [Int] = [1]) throws -> String {
        let root = try temporaryFolder()
        let writer = SynscapesWriter(root: root, appearance: .fixtureSynthetic)
        for number in numbers { try writer.write(Self.handScene(), number: number, seed: 1) }
        return root
    }

    func harmonizeHand() throws -> (ManifestRecord, HarmonizeResult, String) {
        let root = try writeHandDataset(), out = try temporaryFolder()
        let result = try Harmonizer.run(options(.synscapes, root: root, out: out))
        return (try XCTUnwrap(readManifest(out).first), result, out)
    }

    func testTwoWheelerSplitsIntoRiderAndBicycleWithOneSourceId() throws {
        let (record, _, out) = try harmonizeHand()
        XCTAssertEqual(record.instances.map(\.sourceId), [2_400_002, 2_600_001, 2_800_001, 3_300_001, 3_300_001])
        XCTAssertEqual(record.instances.map(\.className), ["person", "car", "bus", "rider", "bicycle"])
        XCTAssertEqual(record.instances.map(\.area), [40, 20, 280, 40, 64])
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["instances_split"] as? Int, 1)
        XCTAssertEqual(summary["meta_entries_without_pixels"] as? Int, 1)   // the pedestrian behind the bus
    }

    func testOcclusionTruncationAndAmodalBoxComeFromMeta() throws {
        let (record, _, _) = try harmonizeHand()
        let car = record.instances[1], person = record.instances[0]
        XCTAssertEqual(car.occlusion, 0.9)           // 20 of 200 pixels visible
        XCTAssertEqual(car.truncation, 0.0)
        XCTAssertEqual(person.truncation, 0.6)       // 4 of 10 columns inside
        XCTAssertEqual(person.occlusion, 0.0)
        // bbox2d is normalised and rounded to 5 decimals in meta; amodal_bbox is it times the image size.
        XCTAssertEqual(car.amodalBBox, [2, 2, 20, 10])
        XCTAssertEqual(person.amodalBBox?[0], 60)
        XCTAssertEqual(person.amodalBBox?[2], 10)     // unclamped: reaches past the right border
        XCTAssertEqual(record.domain, .synthetic)
        XCTAssertEqual(record.image, "img/rgb/1.png")
    }

    func testInstanceClassPixelsWithoutInstanceIdJoinTheIgnoreRegion() throws {
        let (record, _, _) = try harmonizeHand()
        XCTAssertEqual(record.ignore?.area, 16)
        XCTAssertEqual(record.ignore?.bbox, [30, 20, 4, 4])
    }

    func testValFractionTakesTheHighestNumbers() throws {
        let root = try writeHandDataset(numbers: Array(1...10) + [25])
        let reader = try SynscapesReader(root: root, split: .all, valFraction: 0.2,
                                         taxonomy: Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml"),
                                         mapping: LabelMapping(contentsOf: "\(mappingsFolder)/synscapes.yaml",
                                                               taxonomy: Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml")))
        let samples = try reader.discover()
        XCTAssertEqual(samples.filter { $0.split == .val }.map(\.id).sorted(), ["synscapes/10", "synscapes/25"])
        XCTAssertEqual(samples.count, 11)
        XCTAssertEqual(SynscapesReader.valCount(of: 25_000, fraction: 0.04), 1_000)   // 24 001 … 25 000
        XCTAssertEqual(SynscapesReader.valCount(of: 5, fraction: 0.04), 0)
    }

    func testFixturesSplitBicyclistsAndMotorcyclists() throws {
        let out = try temporaryFolder()
        let result = try Harmonizer.run(options(.synscapes, root: "\(fixturesFolder)/synscapes", out: out))
        XCTAssertEqual(result.written, 5)
        let records = try readManifest(out)
        XCTAssertEqual(records.map(\.id), ["synscapes/1", "synscapes/2", "synscapes/3", "synscapes/4", "synscapes/5"])
        for record in records {
            let bySource = Dictionary(grouping: record.instances, by: \.sourceId)
            for (sourceId, parts) in bySource where sourceId / 100_000 == 33 {
                XCTAssertTrue(Set(parts.map(\.className)).isSubset(of: ["rider", "bicycle"]), "\(record.id) \(sourceId)")
            }
            // Instances are pairwise disjoint and disjoint from the ignore region.
            var union = record.ignore ?? RLE.empty(height: record.height, width: record.width)
            for instance in record.instances {
                XCTAssertEqual(union.intersectionArea(instance.mask), 0, "\(record.id) instance \(instance.id)")
                union = union.union(instance.mask)
            }
        }
        let riders = records.flatMap(\.instances).filter { $0.className == "rider" }
        XCTAssertTrue(riders.allSatisfy { [32, 33].contains($0.sourceId / 100_000) })
        XCTAssertEqual(riders.count, 9)
    }
}
