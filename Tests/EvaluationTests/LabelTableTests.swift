import CityscapesLabels
@testable import Evaluation
import SynmixCore
import TestSupport
import XCTest

/// The one Cityscapes label table against cityscapesScripts' own, and the lookups derived from it.
final class LabelTableTests: XCTestCase {
    func testTheTableIsCityscapesScriptsLabelsRowForRow() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let script = """
        import json
        from cityscapesscripts.helpers.labels import labels
        print(json.dumps([[l.name, l.id, l.trainId, l.category, l.categoryId, l.hasInstances, l.ignoreInEval, list(l.color)] for l in labels]))
        """
        let (status, output) = try runProgram(python, ["-c", script])
        XCTAssertEqual(status, 0)
        let rows = try XCTUnwrap(try JSON.parse(Array(output.utf8)).arrayValue)
        XCTAssertEqual(rows.count, CityscapesLabel.all.count)
        for (row, label) in zip(rows, CityscapesLabel.all) {
            let fields = try XCTUnwrap(row.arrayValue)
            XCTAssertEqual(fields[0].stringValue, label.name)
            XCTAssertEqual(fields[1].intValue, label.id, label.name)
            XCTAssertEqual(fields[2].intValue, label.trainId, label.name)
            XCTAssertEqual(fields[3].stringValue, label.category, label.name)
            XCTAssertEqual(fields[4].intValue, label.categoryId, label.name)
            XCTAssertEqual(fields[5].boolValue, label.hasInstances, label.name)
            XCTAssertEqual(fields[6].boolValue, label.ignoreInEval, label.name)
            XCTAssertEqual(fields[7].arrayValue?.compactMap(\.intValue), label.color.map(Int.init), label.name)
        }
    }

    func testTheDerivedLookupsAreTheOnesTheEvaluatorAndReadersUse() {
        XCTAssertEqual(CityscapesEvaluation.classes.map(\.name), ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])
        XCTAssertEqual(CityscapesEvaluation.classes.map(\.id), [24, 25, 26, 27, 28, 31, 32, 33])
        XCTAssertEqual(CityscapesEvaluation.voidValues, [0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30])
        XCTAssertEqual(CityscapesEvaluation.knownLabelIds, Set(Array(0...33) + [-1]))
        XCTAssertEqual(CityscapesLabel.pixelIds, Array(0...33))
        XCTAssertEqual(CityscapesLabel.instanceIds, Array(24...33))
        XCTAssertEqual(CityscapesLabel.byId[26]?.color, [0, 0, 142])
        XCTAssertEqual(CityscapesLabel.byId[-1]?.name, "license plate")
    }
}
