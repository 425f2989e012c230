import XCTest
import SynmixCore
import SynmixFormats

/// The inter-stage JSON documents read back through their owner types to the same values and bytes.
final class FormatTests: XCTestCase {
    func sampleRecord() -> SampleRecord {
        var mask = [UInt8](repeating: 0, count: 8 * 4)
        for i in [5, 6, 13, 14] { mask[i] = 1 }
        let instance = InstanceRecord(id: 0, className: "car", isCrowd: false, mask: RLE.encode(mask: mask, height: 4, width: 8),
                                      sourceId: 26001, occlusion: 0.25, truncation: 0, amodalBBox: [4.5, 0, 3, 2.5])
        return SampleRecord(id: "cityscapes/val/a_000001", key: "cityscapes-val-a_000001", source: "cityscapes", domain: .real,
                            split: .val, width: 8, height: 4, originalWidth: 2048, originalHeight: 1024, imageFormat: .jpg,
                            instances: [instance], ignore: nil)
    }

    func testASampleRecordRoundTripsWithItsKeyOrder() throws {
        let record = sampleRecord()
        let text = record.json.compact
        XCTAssertTrue(text.hasPrefix(#"{"id":"cityscapes/val/a_000001","key":"cityscapes-val-a_000001","source":"cityscapes","domain":"real","split":"val","width":8,"height":4,"original_size":[2048,1024],"image_format":"jpg","instances":[{"id":0,"class":"car","iscrowd":0,"area":4,"#), text)
        XCTAssertTrue(text.hasSuffix(#""ignore":null}"#), text)
        let read = try SampleRecord(bytes: Array(text.utf8), file: "k.json")
        XCTAssertEqual(read, record)
        XCTAssertEqual(read.json.compact, text)
    }

    func testAManifestLineThatIsNoRecordSaysWhichProblemItHas() {
        func problem(_ line: String) -> ManifestRecord.LineProblem? {
            if case .failure(let problem) = ManifestRecord.header(ofLine: Substring(line)) { return problem }
            return nil
        }
        XCTAssertEqual(problem(#"{"id":"a","split":"tarin","domain":"real"}"#), .unknownSplitOrDomain(split: "tarin", domain: "real"))
        XCTAssertEqual(problem(#"{"id":"a","split":"train"}"#), .noHeader)
        XCTAssertEqual(problem(#"{"id":"a","split":"train","domain":"synthetic"}"#), nil)
        guard case .notJSON = problem(#"{"id":"a""#) else { return XCTFail("a truncated line is not JSON") }
        XCTAssertEqual(ManifestRecord.LineProblem.noHeader.description, "a record needs string id, split and domain")
    }

    func testASampleRecordNamesTheBadField() throws {
        func reason(_ edit: (inout String) -> Void) -> String {
            var text = sampleRecord().json.compact
            edit(&text)
            do {
                _ = try SampleRecord(bytes: Array(text.utf8), file: "k.json")
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(reason { $0 = $0.replacingOccurrences(of: #""jpg""#, with: #""gif""#) },
                       "k.json:1: image_format 'gif' is neither png nor jpg")
        XCTAssertEqual(reason { $0 = $0.replacingOccurrences(of: "[2048,1024]", with: "[2048]") },
                       "k.json:1: field 'original_size' is not [width, height] of positive integers")
        XCTAssertEqual(reason { $0 = $0.replacingOccurrences(of: #""key":"cityscapes-val-a_000001","#, with: "") },
                       "k.json:1: missing or non-string field 'key'")
        XCTAssertEqual(reason { $0 = $0.replacingOccurrences(of: #""width":8,"#, with: #""width":9,"#) },
                       "k.json:1: instances[0]: mask size [4, 8] is not the image's [4, 9]")
    }

    func testAShardIndexRoundTripsAndItsTotalsMustAgree() throws {
        var first = ShardIndex.Entry(name: "mix-000000.tar")
        (first.samples, first.bytes, first.sha256, first.firstKey, first.lastKey) = (2, 20_480, String(repeating: "a", count: 64), "k1", "k2")
        first.domains = ["synthetic": 1, "real": 1]
        first.classes = ["person": 3, "car": 5]
        var second = ShardIndex.Entry(name: "mix-000001.tar")
        (second.samples, second.bytes, second.sha256, second.firstKey, second.lastKey) = (1, 10_240, String(repeating: "b", count: 64), "k3", "k3")
        second.domains = ["real": 1]
        let index = ShardIndex(synmixVersion: "9.9.9", taxonomy: nil, plan: .object([("seed", .int(7))]), skipped: 1, shards: [first, second])
        let text = index.json.pretty
        XCTAssertEqual(index.samples, 3)
        XCTAssertTrue(index.json.compact.contains(#""domains":{"real":1,"synthetic":1},"classes":{"car":5,"person":3}"#))
        let read = try ShardIndex(json: try JSON.parse(Array(text.utf8)), file: "index.json")
        XCTAssertEqual(read.shards, [first, second])
        XCTAssertEqual(read.skipped, 1)
        XCTAssertEqual(read.json.pretty, text)

        let wrongTotal = text.replacingOccurrences(of: "\"samples\": 3,", with: "\"samples\": 4,")
        XCTAssertThrowsError(try ShardIndex(json: try JSON.parse(Array(wrongTotal.utf8)), file: "index.json")) {
            XCTAssertEqual("\($0)", "index.json:1: 'samples' is 4, the shards hold 3")
        }
        let otherFormat = text.replacingOccurrences(of: ShardIndex.format, with: "synmix-shards-0")
        XCTAssertThrowsError(try ShardIndex(json: try JSON.parse(Array(otherFormat.utf8)), file: "index.json")) {
            XCTAssertEqual("\($0)", "index.json:1: format 'synmix-shards-0' is not synmix-shards-1")
        }
    }

    func testASkippedInputRoundTrips() throws {
        let error = FileError(path: "img/a.png", reason: "truncated")
        XCTAssertEqual(error.json.compact, #"{"file":"img/a.png","reason":"truncated"}"#)
        XCTAssertEqual(try FileError(json: error.json, file: "errors.jsonl"), error)
    }

    func testSafeNamesKeepOnlyAsciiLettersDigitsUnderscoreAndDash() {
        XCTAssertEqual(Files.safeName("cityscapes/val/frankfurt_000000.x"), "cityscapes-val-frankfurt_000000-x")
        XCTAssertEqual(Files.safeName("zürich 1"), "z-rich-1")
    }
}
