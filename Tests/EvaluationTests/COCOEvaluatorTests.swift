import Foundation
import XCTest
@testable import Evaluation
import SynmixCore
import TestSupport

final class COCOEvaluatorTests: XCTestCase {
    /// zeros(H, W) with [y0:y1, x0:x1] = 1, as an RLE.
    static func box(_ h: Int, _ w: Int, _ y0: Int, _ y1: Int, _ x0: Int, _ x1: Int) -> RLE {
        var m = [UInt8](repeating: 0, count: h * w)
        for y in y0..<y1 { for x in x0..<x1 { m[y * w + x] = 1 } }
        return RLE.encode(mask: m, height: h, width: w)
    }

    func testThresholdsAreNumpysLinspace() {
        XCTAssertEqual(COCOEvaluator.iouThresholds, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95])
        XCTAssertEqual(COCOEvaluator.recallThresholds[35], 0.35000000000000003)
        XCTAssertEqual(COCOEvaluator.recallThresholds[57], 0.5700000000000001)
        XCTAssertEqual(COCOEvaluator.recallThresholds[100], 1.0)
    }

    /// Verified against pycocotools 2.0.11.
    func testEndToEndVectorMatchesPycocotools() {
        let b = Self.box
        let gts = [
            COCOEvaluator.GroundTruth(id: 1, imageId: 1, categoryId: 1, isCrowd: false, area: 20, mask: b(10, 10, 0, 4, 0, 5)),
            COCOEvaluator.GroundTruth(id: 2, imageId: 1, categoryId: 1, isCrowd: false, area: 2000, mask: b(10, 10, 5, 10, 5, 10)),
            COCOEvaluator.GroundTruth(id: 3, imageId: 1, categoryId: 2, isCrowd: true, area: 30, mask: b(10, 10, 0, 6, 5, 10)),
            COCOEvaluator.GroundTruth(id: 4, imageId: 2, categoryId: 1, isCrowd: false, area: 12, mask: b(8, 12, 2, 5, 2, 6)),
            COCOEvaluator.GroundTruth(id: 5, imageId: 2, categoryId: 2, isCrowd: false, area: 16, mask: b(8, 12, 4, 8, 8, 12)),
        ]
        let dts = [
            COCOEvaluator.Detection(imageId: 1, categoryId: 1, score: 0.9, mask: b(10, 10, 0, 4, 0, 4)),
            COCOEvaluator.Detection(imageId: 1, categoryId: 1, score: 0.9, mask: b(10, 10, 5, 10, 5, 10)),
            COCOEvaluator.Detection(imageId: 1, categoryId: 1, score: 0.3, mask: b(10, 10, 0, 4, 0, 5)),
            COCOEvaluator.Detection(imageId: 1, categoryId: 2, score: 0.8, mask: b(10, 10, 0, 3, 6, 10)),
            COCOEvaluator.Detection(imageId: 1, categoryId: 2, score: 0.7, mask: b(10, 10, 7, 9, 0, 2)),
            COCOEvaluator.Detection(imageId: 2, categoryId: 1, score: 0.6, mask: b(8, 12, 2, 5, 2, 5)),
            COCOEvaluator.Detection(imageId: 2, categoryId: 2, score: 0.5, mask: b(8, 12, 4, 8, 9, 12)),
        ]
        let stats = COCOEvaluator().evaluate(imageIds: [1, 2], categoryIds: [1, 2], groundTruth: gts, detections: dts)
        XCTAssertEqual(stats, [0.532920792079208, 0.75, 0.75, 0.5004950495049505, 0.9999999999999998, -1.0,
                               0.5166666666666666, 0.7333333333333332, 0.7333333333333332, 0.7, 1.0, -1.0])
    }

    func testRandomScenesAgreeWithCOCOeval() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        var random = SplitMix64(seed: 99)
        func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
        var gts: [COCOEvaluator.GroundTruth] = [], dts: [COCOEvaluator.Detection] = []
        var images: [JSON] = [], annotations: [JSON] = [], results: [JSON] = []
        for image in 1...15 {
            let (h, w) = (int(40..<90), int(40..<120))
            images.append(.object([("id", .int(image)), ("height", .int(h)), ("width", .int(w))]))
            for _ in 0..<int(0..<7) {
                let y0 = int(0..<(h - 4)), x0 = int(0..<(w - 4))
                let mask = Self.box(h, w, y0, min(h, y0 + int(2..<40)), x0, min(w, x0 + int(2..<50)))
                let gt = COCOEvaluator.GroundTruth(id: gts.count + 1, imageId: image, categoryId: int(1..<4), isCrowd: int(0..<8) == 0,
                                                   area: Double(mask.area), mask: mask)
                gts.append(gt)
                annotations.append(.object([("id", .int(gt.id)), ("image_id", .int(image)), ("category_id", .int(gt.categoryId)),
                                            ("iscrowd", .int(gt.isCrowd ? 1 : 0)), ("area", .double(gt.area)), ("segmentation", mask.json)]))
                for _ in 0..<int(0..<3) {   // shifted copies with tied scores
                    let dy = int(0..<5) - 2, dx = int(0..<5) - 2, b = mask.bbox
                    let shifted = Self.box(h, w, max(0, b[1] + dy), min(h, max(1, b[1] + b[3] + dy)), max(0, b[0] + dx), min(w, max(1, b[0] + b[2] + dx)))
                    dts.append(COCOEvaluator.Detection(imageId: image, categoryId: int(0..<5) == 0 ? int(1..<4) : gt.categoryId,
                                                       score: Double(int(1..<10)) / 10, mask: shifted))
                }
            }
            for _ in 0..<int(0..<3) {   // false positives
                let y0 = int(0..<(h - 4)), x0 = int(0..<(w - 4))
                dts.append(COCOEvaluator.Detection(imageId: image, categoryId: int(1..<4), score: Double(int(1..<10)) / 10,
                                                   mask: Self.box(h, w, y0, y0 + 3, x0, x0 + 3)))
            }
        }
        for dt in dts {
            results.append(.object([("image_id", .int(dt.imageId)), ("category_id", .int(dt.categoryId)), ("score", .double(dt.score)),
                                    ("segmentation", dt.mask.json)]))
        }
        let folder = try temporaryFolder()
        let categories = JSON.array((1...3).map { .object([("id", .int($0)), ("name", .string("c\($0)"))]) })
        try Files.writeAtomically(JSON.object([("images", .array(images)), ("annotations", .array(annotations)), ("categories", categories)]).compact,
                                  to: "\(folder)/gt.json")
        try Files.writeAtomically(JSON.array(results).compact, to: "\(folder)/dt.json")
        let script = """
            import json, io, contextlib
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval
            with contextlib.redirect_stdout(io.StringIO()):
                gt = COCO('\(folder)/gt.json'); dt = gt.loadRes('\(folder)/dt.json')
                e = COCOeval(gt, dt, 'segm'); e.evaluate(); e.accumulate(); e.summarize()
            print(json.dumps([float(x) for x in e.stats]))
            """
        let (status, output) = try runProgram(python, ["-c", script])
        XCTAssertEqual(status, 0)
        let official = try JSON.parse(output[...]).arrayValue!.map { $0.doubleValue! }
        let ours = COCOEvaluator().evaluate(imageIds: Array(1...15), categoryIds: [1, 2, 3], groundTruth: gts, detections: dts)
        XCTAssertEqual(ours.count, 12)
        for (index, (mine, theirs)) in zip(ours, official).enumerated() {
            XCTAssertEqual(mine, theirs, accuracy: 1e-12, COCOEvaluator.statNames[index])
        }
        XCTAssertGreaterThan(dts.count, 40)
    }
}
