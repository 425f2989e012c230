import Foundation
import XCTest
@testable import SynmixCore
import TestSupport

final class PycocotoolsInteropTests: XCTestCase {
    func testOurRLEStringsAreByteIdenticalToPycocotools() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let (status, output) = try runProgram(python, ["\(repositoryRoot)/Tests/interop/rle_vectors.py", "300"])
        XCTAssertEqual(status, 0)
        let lines = output.split(separator: "\n")
        XCTAssertEqual(lines.count, 302)
        var checked = 0
        for line in lines {
            let vector = try JSON.parse(line)
            let size = vector["size"]!.arrayValue!.map { $0.intValue! }
            let mask = vector["bits"]!.stringValue!.utf8.map { $0 == UInt8(ascii: "1") ? UInt8(1) : 0 }
            let rle = RLE.encode(mask: mask, height: size[0], width: size[1])
            let name = vector["name"]!.stringValue!
            XCTAssertEqual(rle.string, vector["counts"]!.stringValue!, name)
            XCTAssertEqual(rle.area, vector["area"]!.intValue!, name)
            XCTAssertEqual(rle.bbox, vector["bbox"]!.arrayValue!.map { $0.intValue! }, name)
            XCTAssertEqual(try RLE(string: vector["counts"]!.stringValue!, height: size[0], width: size[1]).decode(), mask, name)
            checked += 1
        }
        XCTAssertEqual(checked, 302)
        // V5 and V6's published digests (reference notes §1.11) pin the Python side too.
        let v5 = try JSON.parse(lines[0]), v6 = try JSON.parse(lines[1])
        XCTAssertEqual(SHA256Hasher.hex(Array(v5["counts"]!.stringValue!.utf8)),
                       "1b96014301b85ab098e339668e7905056f3727160ac527aa4be7a18a908a6353")
        XCTAssertEqual(SHA256Hasher.hex(Array(v6["counts"]!.stringValue!.utf8)),
                       "4447c33b5fb213dba21c5bec92c368c1cd064a7793278fac543e0e49e4ffe4f3")
        XCTAssertEqual(v5["area"]!.intValue, 985)
        XCTAssertEqual(v6["area"]!.intValue, 72)
    }
}
