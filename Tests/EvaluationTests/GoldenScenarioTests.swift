import Foundation
import XCTest
@testable import Evaluation
import SynmixCore
import TestSupport

/// Writes Cityscapes-layout ground truth and results-format predictions.
struct ScenarioWriter {
    let root: String
    let height: Int, width: Int
    var maskCounter = 0

    /// numpy-style half-open slice [r0:r1, c0:c1].
    typealias Slice = (r0: Int, r1: Int, c0: Int, c1: Int)

    func groundTruth(_ name: String, background: UInt16, regions: [(Slice, UInt16)]) throws {
        var ids = Raster<UInt16>(width: width, height: height, channels: 1, filling: background)
        for (s, value) in regions { for r in s.r0..<s.r1 { for c in s.c0..<s.c1 { ids.samples[r * width + c] = value } } }
        try Files.createDirectory("\(root)/gtFine/val/fakecity")
        try Files.writeAtomically(try PNGCodec.encode(ids), to: "\(root)/gtFine/val/fakecity/\(name)_gtFine_instanceIds.png")
    }

    mutating func predictions(_ name: String, _ lines: [(Slice?, Int, String)]) throws {
        try Files.createDirectory("\(root)/results/masks")
        var text = ""
        for (slice, label, score) in lines {
            var mask = Raster<UInt8>(width: width, height: height, channels: 1)
            if let s = slice { for r in s.r0..<s.r1 { for c in s.c0..<s.c1 { mask.samples[r * width + c] = 255 } } }
            maskCounter += 1
            let file = "masks/\(name)_\(maskCounter).png"
            try Files.writeAtomically(try PNGCodec.encode(mask), to: "\(root)/results/\(file)")
            text += "\(file) \(label) \(score)\n"
        }
        try Files.writeAtomically(text, to: "\(root)/results/\(name)_pred.txt")
    }
}

/// The golden scenario and the official script's numbers (numpy 1.26.4).
final class GoldenScenarioTests: XCTestCase {
    static func writeGolden() throws -> String {
        let root = try temporaryFolder("golden")
        var writer = ScenarioWriter(root: root, height: 100, width: 200)
        try writer.groundTruth("fakecity_000000_000019", background: 7, regions: [
            ((0, 10, 0, 200), 0), ((20, 40, 10, 40), 26000), ((20, 40, 50, 80), 26001), ((60, 90, 10, 30), 24000),
            ((60, 65, 40, 50), 24001), ((50, 80, 100, 140), 26), ((20, 40, 150, 190), 29000), ((60, 80, 150, 190), 33000),
        ])
        try writer.groundTruth("fakecity_000001_000019", background: 11, regions: [
            ((10, 50, 10, 60), 26000), ((60, 90, 100, 130), 24000), ((60, 90, 150, 170), 24001),
        ])
        try writer.predictions("fakecity_000000_000019", [
            ((20, 40, 10, 38), 26, "0.9"), ((20, 40, 12, 40), 26, "0.8"), ((20, 40, 50, 65), 26, "0.7"),
            ((50, 80, 100, 135), 26, "0.95"), ((0, 12, 100, 150), 26, "0.6"), ((20, 40, 150, 190), 26, "0.85"),
            ((60, 90, 10, 28), 24, "0.75"), ((60, 65, 40, 50), 24, "0.65"), ((60, 80, 150, 180), 33, "0.5"),
            (nil, 26, "0.99"),
        ])
        try writer.predictions("fakecity_000001_000019", [
            ((10, 50, 10, 55), 26, "0.9"), ((60, 90, 100, 127), 24, "0.75"), ((60, 90, 150, 165), 24, "0.75"),
            ((0, 20, 0, 20), 24, "0.4"), ((0, 20, 100, 120), 27, "0.3"),
        ])
        return root
    }

    func testGoldenScenarioMatchesTheOfficialNumbersExactly() throws {
        let root = try Self.writeGolden()
        let result = try CityscapesEvaluation.run(.init(groundTruth: root, predictions: "\(root)/results")).result
        let five9 = 0.5555555555555556, twoThirds = 0.6666666666666666
        XCTAssertEqual(result.ap[0], [1, 1, 1, 1, 1, five9, five9, five9, 0, 0])                      // person
        XCTAssertEqual(result.ap[2], [Double](repeating: twoThirds, count: 8) + [0.25, 0])             // car
        XCTAssertEqual(result.ap[7], [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])                                   // bicycle
        for c in [1, 3, 4, 5, 6] { XCTAssertTrue(result.ap[c].allSatisfy(\.isNaN), result.classNames[c]) }
        XCTAssertEqual(result.classAP(0), 0.6666666666666667)   // pairwise summation order shows in the last bit
        XCTAssertEqual(result.classAP(2), 0.5583333333333333)
        XCTAssertEqual(result.classAP(7), 0.5)
        XCTAssertEqual(result.classAP50(2), twoThirds)
        XCTAssertEqual(result.meanAP, 0.575)
        XCTAssertEqual(result.meanAP50, 0.8888888888888888)
        XCTAssertEqual(result.table.split(separator: "\n").map(String.init), [
            "##################################################",
            "what           :             AP         AP_50%",
            "##################################################",
            "person         :          0.667          1.000",
            "rider          :            nan            nan",
            "car            :          0.558          0.667",
            "truck          :            nan            nan",
            "bus            :            nan            nan",
            "train          :            nan            nan",
            "motorcycle     :            nan            nan",
            "bicycle        :          0.500          1.000",
            "--------------------------------------------------",
            "average        :          0.575          0.889",
        ])
    }
}
