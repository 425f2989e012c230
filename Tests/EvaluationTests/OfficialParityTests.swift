import Foundation
import XCTest
@testable import Evaluation
import SynmixCore
import TestSupport

/// Random ground truth and perturbed predictions, scored by the official
/// cityscapesScripts evaluation (numpy < 2, in the Makefile's venv) and by ours.
final class OfficialParityTests: XCTestCase {
    /// 12 images of 256×128: stuff, void blobs, instances of every class, caravans, groups and
    /// small (< 100 px) ground truth; predictions that are exact, shifted, eroded, dilated,
    /// duplicated, false, on void, on groups and on small regions, with tied scores.
    static func writeRandomScenario(seed: UInt64) throws -> String {
        let root = try temporaryFolder("parity\(seed)")
        var random = SplitMix64(seed: seed)
        func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
        var writer = ScenarioWriter(root: root, height: 128, width: 256)
        let labels = [24, 25, 26, 27, 28, 31, 32, 33]
        for image in 0..<12 {
            let name = "fakecity_\(String(format: "%06d", image))_000019"
            var regions: [(ScenarioWriter.Slice, UInt16)] = []
            for _ in 0..<3 {   // void blobs and other stuff
                let r = int(0..<110), c = int(0..<230)
                regions.append(((r, r + int(4..<18), c, c + int(6..<26)), UInt16([0, 4, 11, 21][int(0..<4)])))
            }
            var counters: [Int: Int] = [:]
            var gtBoxes: [(ScenarioWriter.Slice, Int, UInt16)] = []
            for _ in 0..<int(4..<9) {
                let label = int(0..<10) < 1 ? [29, 30][int(0..<2)] : labels[int(0..<labels.count)]
                let small = int(0..<8) == 0, group = int(0..<8) == 0
                let h = small ? int(3..<9) : int(10..<40), w = small ? int(3..<9) : int(10..<60)
                let r = int(0..<(128 - h)), c = int(0..<(256 - w))
                let k = counters[label, default: 0]
                counters[label] = k + 1
                let value = group ? UInt16(label) : UInt16(label * 1000 + k)
                regions.append(((r, r + h, c, c + w), value))
                gtBoxes.append(((r, r + h, c, c + w), label, value))
            }
            try writer.groundTruth(name, background: 7, regions: regions)
            var lines: [(ScenarioWriter.Slice?, Int, String)] = []
            let scores = ["0.9", "0.8", "0.75", "0.75", "0.6", "0.5", "0.35", "0.2"]
            for (s, label, _) in gtBoxes {
                let evaluated = [24, 25, 26, 27, 28, 31, 32, 33].contains(label) ? label : 26   // a car on a caravan
                switch int(0..<7) {
                case 0: continue                                                             // a miss
                case 1: lines.append((s, evaluated, "0.99"))                                 // exact
                case 2: let d = int(1..<6); lines.append(((s.r0, s.r1, min(s.c0 + d, s.c1 - 1), min(s.c1 + d, 256)), evaluated, scores[int(0..<8)]))   // shifted
                case 3: lines.append(((min(s.r0 + 1, s.r1 - 1), s.r1, min(s.c0 + 1, s.c1 - 1), s.c1), evaluated, scores[int(0..<8)]))          // eroded
                case 4: lines.append(((max(0, s.r0 - 2), min(128, s.r1 + 2), max(0, s.c0 - 2), min(256, s.c1 + 2)), evaluated, scores[int(0..<8)]))   // dilated
                case 5:                                                                      // duplicates
                    lines.append((s, evaluated, scores[int(0..<8)]))
                    lines.append(((s.r0, s.r1, s.c0, max(s.c0 + 1, s.c1 - 2)), evaluated, scores[int(0..<8)]))
                default: lines.append(((s.r0, s.r1, s.c0, s.c0 + max(1, (s.c1 - s.c0) / 2)), evaluated, scores[int(0..<8)]))   // half: IoU 0.5-ish
                }
            }
            for _ in 0..<int(1..<4) {   // false positives, some on void blobs
                let r = int(0..<110), c = int(0..<230)
                lines.append(((r, r + int(3..<18), c, c + int(3..<26)), labels[int(0..<labels.count)], scores[int(0..<8)]))
            }
            lines.append((nil, 26, "0.5"))   // an empty mask
            try writer.predictions(name, lines)
        }
        return root
    }

    func testOurAPEqualsTheOfficialScriptOnRandomScenarios() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let script = "\(repositoryRoot)/Tests/interop/cityscapes_eval.py"
        var compared = 0, identical = 0
        for seed: UInt64 in [1, 2, 3] {
            let root = try Self.writeRandomScenario(seed: seed)
            let (status, output) = try runProgram(python, [script, root])
            XCTAssertEqual(status, 0, "official evaluation failed on seed \(seed)")
            let official = try JSON.parse(output[...])
            let ours = try CityscapesEvaluation.run(.init(groundTruth: root, predictions: "\(root)/results")).result
            for (c, row) in official["matrix"]!.arrayValue!.enumerated() {
                for (t, value) in row.arrayValue!.enumerated() {
                    compared += 1
                    if let expected = value.doubleValue {
                        XCTAssertEqual(ours.ap[c][t], expected, accuracy: 1e-12, "seed \(seed) class \(ours.classNames[c]) overlap \(t)")
                        if ours.ap[c][t] == expected { identical += 1 }
                    } else {
                        XCTAssertTrue(ours.ap[c][t].isNaN, "seed \(seed) class \(ours.classNames[c]) overlap \(t)")
                        identical += 1
                    }
                }
            }
            XCTAssertEqual(ours.meanAP, official["allAp"]!.doubleValue!, accuracy: 1e-12)
            XCTAssertEqual(ours.meanAP50, official["allAp50"]!.doubleValue!, accuracy: 1e-12)
            for (c, name) in ours.classNames.enumerated() {
                let pair = official["classes"]![name]!.arrayValue!
                if let ap = pair[0].doubleValue { XCTAssertEqual(ours.classAP(c), ap, accuracy: 1e-12, name) } else { XCTAssertTrue(ours.classAP(c).isNaN) }
            }
        }
        XCTAssertEqual(compared, 240)
        // Bit-identical (240 of 240) where numpy's bundled OpenBLAS runs its AVX2 kernels
        // (OPENBLAS_CORETYPE=Haswell); its AVX-512 kernels sum in another order, and 11 of 240
        // then differ in the last bits — hence the 1e-12 bound above, which holds for both.
        print("official parity: \(identical) of \(compared) APs bit-identical")
    }
}
