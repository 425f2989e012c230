import Foundation
import XCTest
@testable import Harmonize
import SynmixCore
import TestSupport
import SynmixFormats

/// Our Cityscapes reader against the Python pipeline Detectron2 users run
/// (PIL + numpy + pycocotools) on the fixtures:
/// the same instances, crowd flags and byte-identical RLE strings.
final class ReferencePipelineInteropTests: XCTestCase {
    func testCityscapesInstancesMatchTheDetectron2StylePipeline() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let (status, output) = try runProgram(python, ["\(repositoryRoot)/Tests/interop/cityscapes_reference.py", "\(fixturesFolder)/cityscapes", "--json", "--jobs", "1"])
        XCTAssertEqual(status, 0)

        let out = try temporaryFolder()
        _ = try Harmonizer.run(options(.cityscapes, root: "\(fixturesFolder)/cityscapes", out: out))
        let records = Dictionary(uniqueKeysWithValues: try readManifest(out).map { ("\($0.root)/\($0.image)", $0) })
        var compared = 0
        for line in output.split(separator: "\n") {
            let reference = try JSON.parse(line)
            let labelFile = reference["file"]!.stringValue!
            let imageFile = labelFile.replacingOccurrences(of: "/gtFine/", with: "/leftImg8bit/")
                .replacingOccurrences(of: "_gtFine_instanceIds.png", with: "_leftImg8bit.png")
            let record = try XCTUnwrap(records[imageFile], imageFile)
            let expected = reference["annotations"]!.arrayValue!
            XCTAssertEqual(record.instances.map(\.sourceId), expected.map { $0["source_id"]!.intValue! }, labelFile)
            for (instance, annotation) in zip(record.instances, expected) {
                XCTAssertEqual(instance.mask.string, annotation["counts"]!.stringValue!, "\(labelFile) \(instance.sourceId)")
                XCTAssertEqual(instance.area, annotation["area"]!.intValue!)
                XCTAssertEqual(instance.bbox, annotation["bbox"]!.arrayValue!.map { $0.intValue! })
                XCTAssertEqual(instance.isCrowd, annotation["iscrowd"]!.intValue! == 1)
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 60)
    }
}
