import Foundation
import XCTest
@testable import FilterInstances
import SynmixCore
import TestSupport
import SynmixFormats

/// A rectangle mask on a width × height image.
func rect(_ x: Int, _ y: Int, _ w: Int, _ h: Int, in size: (Int, Int) = (100, 50)) -> RLE {
    var pixels = [UInt8](repeating: 0, count: size.0 * size.1)
    for row in y..<(y + h) { for column in x..<(x + w) { pixels[row * size.0 + column] = 1 } }
    return RLE.encode(mask: pixels, height: size.1, width: size.0)
}

/// One 100×50 synthetic record whose instances each probe one rule (see `thresholdsText`).
func probeRecord(id: String = "synscapes/1", root: String = "/data/Synscapes") -> ManifestRecord {
    func synthetic(_ id: Int, _ cls: String, _ mask: RLE, occlusion: Double = 0, truncation: Double = 0,
                   amodal: [Double]? = nil, source: Int) -> InstanceRecord {
        let box = mask.bbox
        return InstanceRecord(id: id, className: cls, isCrowd: false, mask: mask, sourceId: source, occlusion: occlusion,
                              truncation: truncation, amodalBBox: amodal ?? box.map(Double.init))
    }
    let instances = [
        synthetic(0, "person", rect(0, 0, 5, 10), occlusion: 0.1, source: 2_400_001),         // 50 px: kept
        synthetic(1, "person", rect(10, 0, 2, 20), source: 2_400_002),                          // 2 px wide: min_width
        synthetic(2, "car", rect(20, 0, 10, 8), source: 2_600_001),                             // 80 px < car's 100: min_area
        synthetic(3, "car", rect(40, 0, 20, 10), occlusion: 0.9, source: 2_600_002),           // max_occlusion
        synthetic(4, "car", rect(40, 20, 20, 10), occlusion: 0.8, source: 2_600_003),          // exactly at the limit: kept
        synthetic(5, "bus", rect(70, 0, 10, 10), truncation: 0.6, amodal: [70, 0, 50, 40], source: 2_800_001),  // truncation + visible 0.05
        InstanceRecord(id: 6, className: "car", isCrowd: true, mask: rect(90, 40, 3, 3), sourceId: 26),       // 9 px crowd: kept
        InstanceRecord(id: 7, className: "person", isCrowd: false, mask: rect(0, 30, 4, 12), sourceId: 24000), // no occlusion attribute: kept
    ]
    return ManifestRecord(id: id, source: "synscapes", domain: .synthetic, split: .train, root: root,
                          image: "img/rgb/1.png", width: 100, height: 50, instances: instances,
                          ignore: rect(80, 20, 10, 5))
}

let thresholdsText = """
    defaults:
      min_area: 40
      min_height: 6
      min_width: 3
      max_occlusion: 0.8
      max_truncation: 0.5
      min_visible_fraction: 0.2
    classes:
      car: {min_area: 100}

    """

final class FilterInstancesTests: XCTestCase {
    func table(_ text: String = thresholdsText) throws -> ThresholdTable {
        let folder = try temporaryFolder()
        try text.write(toFile: "\(folder)/t.yaml", atomically: true, encoding: .utf8)
        return try ThresholdTable(contentsOf: "\(folder)/t.yaml", taxonomy: Taxonomy(contentsOf: taxonomyPath))
    }

    func testEachRuleRemovesTheInstancesItShould() throws {
        let outcome = InstanceFilter(thresholds: try table(), policy: .ignore).apply(probeRecord())
        XCTAssertEqual(outcome.removed.map(\.instance.id), [1, 2, 3, 5])
        XCTAssertEqual(outcome.removed.map(\.rules), [[.minWidth], [.minArea], [.maxOcclusion], [.maxTruncation, .minVisibleFraction]])
        XCTAssertEqual(outcome.record.instances.map(\.sourceId), [2_400_001, 2_600_003, 26, 24000])
        XCTAssertEqual(outcome.record.instances.map(\.id), [0, 1, 2, 3])   // renumbered: ids stay the list index
    }

    func testIgnorePolicyMakesIgnoreTheUnionOfRemovedMasksAndTheOldRegion() throws {
        let record = probeRecord()
        let outcome = InstanceFilter(thresholds: try table(), policy: .ignore).apply(record)
        let expected = RLE.union([record.ignore!] + [1, 2, 3, 5].map { record.instances[$0].mask }, height: 50, width: 100)
        XCTAssertEqual(outcome.record.ignore, expected)
        XCTAssertEqual(outcome.record.ignore?.area, 50 + 40 + 80 + 200 + 100)
        XCTAssertEqual(outcome.pixelsToIgnore, 420)
    }

    func testDropPolicyLeavesNoTrace() throws {
        let record = probeRecord()
        let outcome = InstanceFilter(thresholds: try table(), policy: .drop).apply(record)
        XCTAssertEqual(outcome.record.ignore, record.ignore)
        XCTAssertEqual(outcome.pixelsToIgnore, 0)
        XCTAssertEqual(outcome.record.instances.count, 4)
        for removed in [1, 2, 3, 5].map({ record.instances[$0].mask }) {
            XCTAssertEqual(outcome.record.instances.reduce(0) { $0 + $1.mask.intersectionArea(removed) }, 0)
            XCTAssertEqual(outcome.record.ignore!.intersectionArea(removed), 0)
        }
    }

    func testCrowdRegionsAreNeverRemoved() throws {
        var strict = try table()
        try strict.override([.minArea: 10_000, .minHeight: 1_000])
        let outcome = InstanceFilter(thresholds: strict, policy: .ignore).apply(probeRecord())
        XCTAssertEqual(outcome.record.instances.map(\.isCrowd), [true])
        XCTAssertEqual(outcome.removed.count, 7)
    }

    func testCommandLineReplacesDefaultsWhileClassEntriesStillWin() throws {
        var thresholds = try table()
        try thresholds.override([.minArea: 60, .maxOcclusion: 0.95])
        XCTAssertEqual(thresholds.value(.minArea, for: "person"), 60)
        XCTAssertEqual(thresholds.value(.minArea, for: "car"), 100)
        let outcome = InstanceFilter(thresholds: thresholds, policy: .ignore).apply(probeRecord())
        // person 0 (50 px) and 7 (48 px) now fail min_area; car 3 (occlusion 0.9) is kept.
        XCTAssertEqual(outcome.removed.map(\.instance.id), [0, 1, 2, 5, 7])
        XCTAssertThrowsError(try thresholds.override([.maxTruncation: 1.5])) { error in
            XCTAssertEqual("\(error)", "command line: max_truncation is 1.5: a fraction must lie within 0...1")
        }
    }

    func testSplitTwoWheelerVisibleFractionCountsTheWholeUnit() throws {
        // Rider and bicycle of one bicyclist share its amodal box (20×10 = 200): together 120 px = 0.6.
        let rider = InstanceRecord(id: 0, className: "rider", isCrowd: false, mask: rect(0, 0, 4, 10), sourceId: 3_300_001,
                                   occlusion: 0, truncation: 0, amodalBBox: [0, 0, 20, 10])
        let bicycle = InstanceRecord(id: 1, className: "bicycle", isCrowd: false, mask: rect(4, 0, 16, 5), sourceId: 3_300_001,
                                     occlusion: 0, truncation: 0, amodalBBox: [0, 0, 20, 10])
        var record = probeRecord()
        record.instances = [rider, bicycle]
        let outcome = InstanceFilter(thresholds: try table("defaults: {min_visible_fraction: 0.5}\n"), policy: .ignore).apply(record)
        XCTAssertEqual(outcome.removed.count, 0)   // the rider alone would be 40 / 200 = 0.2
    }

    func testThresholdFileErrorsNameFileAndLine() throws {
        let taxonomy = try Taxonomy(contentsOf: taxonomyPath)
        let cases: [(String, Int, String)] = [
            ("defaults:\n  min_area: 10\n  max_size: 3\n", 3, "unknown rule 'max_size' in defaults"),
            ("defaults: {}\nclasses:\n  pedestrian: {min_area: 3}\n", 3, "unknown class 'pedestrian'"),
            ("defaults:\n  min_height: -2\n", 2, "min_height is -2.0: pixels cannot be negative"),
            ("classes:\n  car:\n    max_occlusion: 1.2\n", 3, "max_occlusion is 1.2: a fraction must lie within 0...1"),
        ]
        for (text, line, reason) in cases {
            let folder = try temporaryFolder()
            try text.write(toFile: "\(folder)/bad.yaml", atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ThresholdTable(contentsOf: "\(folder)/bad.yaml", taxonomy: taxonomy)) { error in
                guard let error = error as? ConfigurationError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.file, "\(folder)/bad.yaml")
                XCTAssertEqual(error.line, line, text)
                XCTAssertTrue(error.reason.hasPrefix(reason), error.reason)
            }
        }
    }

    func testWrittenThresholdsReadBackToTheSameTable() throws {
        let taxonomy = try Taxonomy(contentsOf: taxonomyPath)
        var thresholds = try table()
        try thresholds.override([.minHeight: 12])
        let folder = try temporaryFolder()
        try thresholds.yaml(taxonomy: taxonomy, header: "test").write(toFile: "\(folder)/out.yaml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ThresholdTable(contentsOf: "\(folder)/out.yaml", taxonomy: taxonomy), thresholds)
        let defaultFile = try ThresholdTable(contentsOf: "\(repositoryRoot)/mappings/filters/default.yaml", taxonomy: taxonomy)
        XCTAssertEqual(defaultFile.value(.minHeight, for: "person"), 16)
        XCTAssertEqual(defaultFile.value(.minHeight, for: "car"), 8)
    }
}
