import Foundation
import XCTest
@testable import Evaluation
import SynmixCore
import TestSupport

/// Bad prediction files name the file and line; --skip-bad reports and skips the image.
final class EvaluationBadInputTests: XCTestCase {
    func scenario(_ predictionText: String, extraMask: (String, Raster<UInt8>)? = nil, extraTxt: String? = nil) throws -> (String, String) {
        let root = try temporaryFolder()
        var writer = ScenarioWriter(root: root, height: 40, width: 60)
        try writer.groundTruth("fakecity_000000_000019", background: 7, regions: [((0, 20, 0, 20), 26000)])
        try writer.groundTruth("fakecity_000001_000019", background: 7, regions: [((0, 20, 0, 20), 26000)])
        try writer.predictions("fakecity_000001_000019", [((0, 20, 0, 20), 26, "0.9")])
        try writer.predictions("fakecity_000000_000019", [((0, 20, 0, 20), 26, "0.9")])
        if let (name, mask) = extraMask { try Files.writeAtomically(try PNGCodec.encode(mask), to: "\(root)/results/masks/\(name)") }
        let txt = "\(root)/results/fakecity_000000_000019_pred.txt"
        try Files.writeAtomically(predictionText, to: txt)
        if let extraTxt { try Files.writeAtomically("", to: "\(root)/results/\(extraTxt)") }
        return (root, txt)
    }

    func error(_ root: String) -> String {
        do {
            _ = try CityscapesEvaluation.run(.init(groundTruth: root, predictions: "\(root)/results"))
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testEachBadInputNamesFileAndLine() throws {
        let wrongSize = Raster<UInt8>(width: 10, height: 10, channels: 1, filling: 255)
        var (root, txt) = try scenario("masks/small.png 26 0.9\n", extraMask: ("small.png", wrongSize))
        XCTAssertEqual(error(root), "\(txt):1: mask \(root)/results/masks/small.png is 10x10, the image is 60x40")
        (root, txt) = try scenario("masks/fakecity_000000_000019_2.png 26 0.9\nmasks/missing.png 26 0.5\n")
        XCTAssertTrue(error(root).hasPrefix("\(txt):2: mask \(root)/results/masks/missing.png: "), error(root))
        (root, txt) = try scenario("masks/fakecity_000000_000019_2.png 99 0.9\n")
        XCTAssertEqual(error(root), "\(txt):1: unknown label id 99")
        (root, txt) = try scenario("masks/fakecity_000000_000019_2.png  26 0.9\n")
        XCTAssertEqual(error(root), "\(txt):1: expected 'mask.png LABELID CONFIDENCE' with single spaces, got 'masks/fakecity_000000_000019_2.png  26 0.9'")
        (root, _) = try scenario("", extraTxt: "fakecity_000000_000019_again.txt")
        XCTAssertTrue(error(root).hasPrefix("\(root)/gtFine/val/fakecity/fakecity_000000_000019_gtFine_instanceIds.png: 2 prediction files match"), error(root))
        try FileManager.default.removeItem(atPath: "\(root)/results/fakecity_000000_000019_again.txt")
        try FileManager.default.removeItem(atPath: "\(root)/results/fakecity_000000_000019_pred.txt")
        XCTAssertTrue(error(root).hasPrefix("\(root)/gtFine/val/fakecity/fakecity_000000_000019_gtFine_instanceIds.png: no prediction file"), error(root))
    }

    func testSkipBadReportsTheImageAndScoresTheRest() throws {
        let (root, txt) = try scenario("masks/fakecity_000000_000019_2.png 99 0.9\n")
        var options = CityscapesEvaluation.Options(groundTruth: root, predictions: "\(root)/results")
        options.skipBad = true
        let outcome = try CityscapesEvaluation.run(options)
        XCTAssertEqual(outcome.skipped.map(\.description), ["\(txt):1: unknown label id 99"])
        XCTAssertEqual(outcome.result.images, 1)
        XCTAssertEqual(outcome.result.ap[2], [Double](repeating: 1, count: 10))
    }

    func testCRLFLinesAndAFinalLineWithoutNewlineAreReadAsTheOfficialScriptReadsThem() throws {
        for text in ["masks/fakecity_000000_000019_2.png 26 0.9\r\n", "masks/fakecity_000000_000019_2.png 26 0.9",
                     "masks/fakecity_000000_000019_2.png 26 0.9\r\nmasks/fakecity_000000_000019_2.png 26 0.8"] {
            let (root, _) = try scenario(text)
            let outcome = try CityscapesEvaluation.run(.init(groundTruth: root, predictions: "\(root)/results"))
            XCTAssertEqual(outcome.result.images, 2, text)
            XCTAssertEqual(outcome.result.ap[2], [Double](repeating: 1, count: 10), text)
        }
    }

    func testAMaskPathThroughASiblingFolderWithTheSamePrefixIsRefused() throws {
        let (root, txt) = try scenario("../results2/masks/escape.png 26 0.9\n")
        try Files.createDirectory("\(root)/results2/masks")
        try Files.writeAtomically(try PNGCodec.encode(Raster<UInt8>(width: 60, height: 40, channels: 1, filling: 255)),
                                  to: "\(root)/results2/masks/escape.png")
        XCTAssertEqual(error(root), "\(txt):1: mask ../results2/masks/escape.png lies outside the prediction folder")
    }

    func testANonFiniteConfidenceIsRefused() throws {
        for score in ["nan", "inf"] {
            let (root, txt) = try scenario("masks/fakecity_000000_000019_2.png 26 \(score)\n")
            XCTAssertEqual(error(root), "\(txt):1: label id and confidence must be finite numbers, got 'masks/fakecity_000000_000019_2.png 26 \(score)'")
        }
    }
}
