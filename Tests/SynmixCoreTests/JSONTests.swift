import XCTest
@testable import SynmixCore

final class JSONTests: XCTestCase {
    func testCompactOutputKeepsKeyOrderAndEscapes() {
        let value = JSON.object([("b", .int(1)), ("a", .string("x\"\\\n")), ("c", .array([.double(0.1), .null, .bool(true)]))])
        XCTAssertEqual(value.compact, #"{"b":1,"a":"x\"\\\n","c":[0.1,null,true]}"#)
    }

    func testDoublesUseTheShortestRoundTripForm() {
        XCTAssertEqual(JSON.array([.double(1.0), .double(0.15378), .double(1e-05), .double(47.14559999999999)]).compact,
                       "[1.0,0.15378,1e-05,47.14559999999999]")
    }

    func testParserReadsBackExactlyWhatWasWritten() throws {
        let values: [Double] = [0.1, 1.0 / 3, 122.03280000000004, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -0.0]
        let text = JSON.array(values.map { .double($0) }).compact
        let parsed = try JSON.parse(text[...]).arrayValue!.map { $0.doubleValue! }
        XCTAssertEqual(parsed.map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(try JSON.parse(#"{"k":[1,-2,"\u00e9\ud83d\ude00"]}"#[...]).compact, #"{"k":[1,-2,"é😀"]}"#)
    }

    func testParserRejectsMalformedInput() {
        for bad in ["{", "[1,]", "{\"a\" 1}", "01", "\"\u{1}\"", "[1] x", "nul", "1e"] {
            XCTAssertThrowsError(try JSON.parse(bad[...]), bad)
        }
    }

    func testPrettyOutputInlinesSmallRows() {
        let value = JSON.object([("counts", .object([("a", .int(1)), ("b", .int(2))])), ("list", .array([.int(1), .int(2)]))])
        XCTAssertEqual(value.pretty, "{\n  \"counts\": {\"a\": 1, \"b\": 2},\n  \"list\": [1, 2]\n}\n")
    }
}
