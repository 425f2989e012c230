import Foundation
import XCTest
@testable import FilterInstances
@testable import Harmonize
import SynmixCore
import TestSupport
import SynmixFormats

/// harmonize → filter-instances on the committed fixtures with the default thresholds.
final class FixtureFilteringTests: XCTestCase {
    func harmonizeAndFilter(_ dataset: Dataset) throws
        -> (input: [ManifestRecord], output: [ManifestRecord], result: FilterResult, report: JSON) {
        let harmonized = try temporaryFolder(), filtered = try temporaryFolder()
        _ = try Harmonizer.run(HarmonizeOptions(dataset: dataset, root: "\(repositoryRoot)/fixtures/\(dataset.rawValue)",
                                                out: harmonized, mappingPath: "\(repositoryRoot)/mappings/\(dataset.rawValue).yaml",
                                                taxonomyPath: taxonomyPath))
        let result = try FilterStage.run(FilterOptions(input: harmonized, out: filtered,
                                                       thresholdsPath: "\(repositoryRoot)/mappings/filters/default.yaml",
                                                       taxonomyPath: taxonomyPath))
        return (try readManifest(harmonized), try readManifest(filtered), result, try JSON.parse(try Files.read("\(filtered)/report.json")))
    }

    func testSyntheticFixturesLoseExactlyTheInstancesTheThresholdsReject() throws {
        let (input, output, result, _) = try harmonizeAndFilter(.synscapes)
        XCTAssertEqual([result.records, result.kept, result.removed], [5, 46, 13])
        let filter = InstanceFilter(thresholds: try ThresholdTable(contentsOf: "\(repositoryRoot)/mappings/filters/default.yaml",
                                                                   taxonomy: Taxonomy(contentsOf: taxonomyPath)), policy: .ignore)
        for (before, after) in zip(input, output) {
            let outcome = filter.apply(before)
            XCTAssertEqual(outcome.record, after, before.id)
            for (instance, rules) in outcome.removed {
                XCTAssertFalse(rules.isEmpty)
                // The failed rules are real: e.g. min_area means the area is below the class's limit.
                if rules.contains(.minArea) {
                    XCTAssertLessThan(Double(instance.area), filter.thresholds.value(.minArea, for: instance.className))
                }
                if rules.contains(.maxOcclusion) {
                    XCTAssertGreaterThan(instance.occlusion!, filter.thresholds.value(.maxOcclusion, for: instance.className))
                }
            }
            let removedMasks = outcome.removed.map(\.instance.mask) + (before.ignore.map { [$0] } ?? [])
            XCTAssertEqual(after.ignore, removedMasks.isEmpty ? nil : RLE.union(removedMasks, height: before.height, width: before.width))
        }
    }

    func testRealFixturesKeepEveryCrowdRegionAndUseOnlyPixelRules() throws {
        let (input, output, result, report) = try harmonizeAndFilter(.cityscapes)
        XCTAssertEqual([result.records, result.kept, result.removed], [6, 66, 2])
        let crowdBefore = input.flatMap(\.instances).filter(\.isCrowd).count
        XCTAssertEqual(crowdBefore, 8)
        XCTAssertEqual(output.flatMap(\.instances).filter(\.isCrowd).count, crowdBefore)
        let byRule = report["totals"]!["removed_by_rule"]!
        for rule in [FilterRule.maxOcclusion, .maxTruncation, .minVisibleFraction] {
            XCTAssertEqual(byRule[rule.rawValue]?.intValue, 0, "\(rule): real records carry no such attribute")
        }
        XCTAssertEqual(byRule["min_area"]?.intValue, 2)
    }
}
