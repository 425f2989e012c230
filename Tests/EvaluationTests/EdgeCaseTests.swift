import Foundation
import XCTest
@testable import Evaluation
import SynmixCore
import SynmixFormats

/// Hand-computed answers on tiny in-memory images (40×60 masks from rectangles).
final class EdgeCaseTests: XCTestCase {
    let evaluator = InstanceEvaluator(classNames: ["person", "car"])

    func rect(_ r0: Int, _ r1: Int, _ c0: Int, _ c1: Int) -> RLE {
        var m = [UInt8](repeating: 0, count: 40 * 60)
        for r in r0..<r1 { for c in c0..<c1 { m[r * 60 + c] = 1 } }
        return RLE.encode(mask: m, height: 40, width: 60)
    }

    func gt(_ c: Int, _ mask: RLE, group: Bool = false) -> InstanceEvaluator.GroundTruth { .init(classIndex: c, isGroup: group, mask: mask) }
    func pred(_ c: Int, _ score: Double, _ mask: RLE) -> InstanceEvaluator.Prediction { .init(classIndex: c, score: score, mask: mask) }

    func testNoPredictionsGiveZeroAndNoGroundTruthGivesNaN() {
        let result = evaluator.evaluate([.init(groundTruth: [gt(1, rect(0, 20, 0, 20))], void: nil, predictions: [])])
        XCTAssertEqual(result.ap[1], [Double](repeating: 0, count: 10))
        XCTAssertTrue(result.ap[0].allSatisfy(\.isNaN))
        XCTAssertEqual(result.meanAP, 0)
    }

    func testSmallGroundTruthAloneGivesNaNEvenWithAPerfectPrediction() {
        let small = rect(0, 9, 0, 9)   // 81 px < 100
        let result = evaluator.evaluate([.init(groundTruth: [gt(1, small)], void: nil, predictions: [pred(1, 0.9, small)])])
        XCTAssertTrue(result.ap[1].allSatisfy(\.isNaN))
        XCTAssertTrue(result.meanAP.isNaN)
    }

    func testAllPredictionsInIgnoreRegionsGiveZeroWhereTheOfficialScriptCrashes() {
        // GT car missed; the only prediction lies on void: the official script raises IndexError here.
        let void = rect(30, 40, 0, 60)
        let result = evaluator.evaluate([.init(groundTruth: [gt(1, rect(0, 20, 0, 20))], void: void, predictions: [pred(1, 0.9, rect(30, 40, 0, 30))])])
        XCTAssertEqual(result.ap[1], [Double](repeating: 0, count: 10))
    }

    func testDuplicateDetectionsBecomeFalsePositivesWithTheLowerScore() {
        // One GT (400 px); two predictions with IoU 1 and 0.9: TP at 0.9, FP at 0.8 → p = 1/2 at s=0.8, 1 at s=0.9.
        let g = rect(0, 20, 0, 20)
        let result = evaluator.evaluate([.init(groundTruth: [gt(1, g)], void: nil,
                                               predictions: [pred(1, 0.8, g), pred(1, 0.9, rect(0, 20, 0, 18))])])
        // Points (r, p): s=0.8 → (1, 0.5); s=0.9 → (1, 1); end (0, 1). Widths 0, ½, ½: AP = 0.5 + 0.5 = 1.
        XCTAssertEqual(result.ap[1][0], 1.0)
        // At IoU 0.95 only the exact one matches (score 0.8); the other is a plain FP at 0.9.
        // Points: s=0.8 → (r 1, p 0.5); s=0.9 → (r 0, p 0); end (0, 1). Widths ½(1−0), ½(1−0), ½(0−0): AP = 0.5·0.5 = 0.25.
        XCTAssertEqual(result.ap[1][9], 0.25)
    }

    func testEqualScoresAreOneThreshold() {
        // Two GT, two exact predictions and one FP, all at score 0.5: one PR point (r=1, p=2/3) plus (0, 1).
        let result = evaluator.evaluate([.init(groundTruth: [gt(1, rect(0, 20, 0, 20)), gt(1, rect(20, 40, 30, 50))], void: nil,
                                               predictions: [pred(1, 0.5, rect(0, 20, 0, 20)), pred(1, 0.5, rect(20, 40, 30, 50)),
                                                             pred(1, 0.5, rect(0, 10, 40, 60))])])
        // AP = ½·(1−0)·(2/3) + ½·(1−0)·1 = 5/6 (as the step widths compute it).
        XCTAssertEqual(result.ap[1][0], 0.5 * (2.0 / 3) + 0.5 * 1)
    }

    func testIoUExactlyOneHalfDoesNotMatchAtAP50() {
        let g = rect(0, 20, 0, 20), half = rect(0, 20, 0, 10)   // 200 / 400 = 0.5
        let result = evaluator.evaluate([.init(groundTruth: [gt(1, g)], void: nil, predictions: [pred(1, 0.9, half)])])
        XCTAssertEqual(result.ap[1][0], 0)   // a false positive and a missed GT
    }

    func testManifestGroundTruthUsesCrowdAsGroupsAndIgnoreAsVoid() {
        let record = ManifestRecord(id: "x", source: "s", domain: .real, split: .val, root: "/", image: "i.png", width: 60, height: 40,
                                    instances: [InstanceRecord(id: 0, className: "car", isCrowd: true, mask: rect(0, 20, 0, 20), sourceId: 26),
                                                InstanceRecord(id: 1, className: "car", isCrowd: false, mask: rect(20, 40, 30, 50), sourceId: 26000)],
                                    ignore: rect(0, 10, 40, 60))
        let image = InstanceEvaluator.Image(instances: record.instances, ignore: record.ignore, classNames: ["person", "car"],
                                            predictions: [pred(1, 0.9, rect(0, 20, 0, 20)), pred(1, 0.8, rect(20, 40, 30, 50)),
                                                          pred(1, 0.7, rect(0, 10, 40, 60))])
        let result = evaluator.evaluate([image])
        XCTAssertEqual(result.ap[1], [Double](repeating: 1, count: 10))   // the crowd and ignore predictions are ignored
        XCTAssertEqual(InstanceEvaluator.minRegionSize(width: 512, height: 256, originalWidth: 2048, originalHeight: 1024), 6.25)
    }
}
