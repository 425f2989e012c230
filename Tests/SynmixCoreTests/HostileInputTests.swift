import Foundation
import XCTest
@testable import SynmixCore
import TestSupport
import SynmixFormats

/// Inputs written to hurt: each is refused with a named reason, before any large
/// allocation, without a trap or a hang.
final class HostileInputTests: XCTestCase {
    /// Peak resident memory of this process so far, in bytes.
    func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    func png(declaring width: UInt32, _ height: UInt32) throws -> [UInt8] { try pngDeclaring(width: width, height: height) }

    func testAPNGDeclaringAHugeWidthIsRefusedBeforeAllocating() throws {
        let before = peakResidentBytes()
        for (width, height) in [(UInt32(Int32.max), UInt32(1)), (1, UInt32(Int32.max)), (UInt32.max, UInt32.max), (70_000, 70_000)] {
            XCTAssertThrowsError(try PNGCodec.decode(try png(declaring: width, height), path: "huge.png")) { error in
                guard case ImageError.tooLarge(let path, let w, let h, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual([path, "\(w)x\(h)"], ["huge.png", "\(width)x\(height)"])
                XCTAssertTrue("\(error)".contains("above the budget"), "\(error)")
            }
        }
        XCTAssertLessThan(peakResidentBytes() - before, 64 << 20)
        XCTAssertThrowsError(try PNGCodec.decode(try png(declaring: 0, 4), path: "empty.png")) { error in
            XCTAssertEqual("\(error)", "empty.png: cannot decode image: IHDR declares 0x4 pixels")
        }
    }

    func testRLESizesBeyond32BitsAreErrorsNotTraps() {
        XCTAssertThrowsError(try RLE(counts: [0], height: 1 << 32, width: 1 << 32)) { error in
            XCTAssertTrue("\(error)".contains("exceeds 2³² − 1 pixels"), "\(error)")
        }
        XCTAssertThrowsError(try RLE(string: "0", height: 1 << 40, width: 1))
    }

    func testAManifestLineWithAnAbsurdSizeOrOutOfRangeOcclusionNamesFileAndLine() throws {
        let good = #"{"id":"a","source":"s","domain":"synthetic","split":"train","root":"r","image":"i.png","width":2,"height":1,"#
            + #""instances":[{"id":1,"class":"car","iscrowd":0,"mask":{"size":[1,2],"counts":"02"},"source_id":1,"occlusion":0.5}],"ignore":null}"#
        XCTAssertEqual(try ManifestRecord(jsonLine: Substring(good), file: "m.jsonl", line: 3).instances.first?.occlusion, 0.5)
        let huge = good.replacingOccurrences(of: #""width":2,"height":1"#, with: #""width":4294967296,"height":4294967296"#)
        XCTAssertThrowsError(try ManifestRecord(jsonLine: Substring(huge), file: "m.jsonl", line: 3)) { error in
            XCTAssertEqual("\(error)", "m.jsonl:3: image size 4294967296x4294967296 is outside 1 … 67108864 pixels")
        }
        let hugeMask = good.replacingOccurrences(of: #""size":[1,2]"#, with: #""size":[4294967296,4294967296]"#)
        XCTAssertThrowsError(try ManifestRecord(jsonLine: Substring(hugeMask), file: "m.jsonl", line: 3)) { error in
            XCTAssertTrue("\(error)".hasPrefix("m.jsonl:3: "), "\(error)")
        }
        for bad in ["1.5", "-0.5"] {
            let line = good.replacingOccurrences(of: #""occlusion":0.5"#, with: #""occlusion":\#(bad)"#)
            XCTAssertThrowsError(try ManifestRecord(jsonLine: Substring(line), file: "m.jsonl", line: 3)) { error in
                XCTAssertEqual("\(error)", "m.jsonl:3: instances[0]: field 'occlusion' is \(Double(bad)!), outside [0, 1]")
            }
        }
        let text = good.replacingOccurrences(of: #""occlusion":0.5"#, with: #""occlusion":"high""#)
        XCTAssertThrowsError(try ManifestRecord(jsonLine: Substring(text), file: "m.jsonl", line: 3)) { error in
            XCTAssertEqual("\(error)", "m.jsonl:3: instances[0]: field 'occlusion' is not a number")
        }
    }

    /// A one-member archive whose size field is replaced by `field` (checksum fixed up).
    func tar(sizeField field: String) -> [UInt8] {
        var bytes = Tar.member(name: "a.json", data: Array("{}".utf8)) + Tar.trailer(after: 512 + 512)
        let text = Array(field.utf8) + [0]
        for k in 0..<12 { bytes[124 + k] = k < text.count ? text[k] : 0 }
        for k in 148..<156 { bytes[k] = 0x20 }
        let sum = bytes[0..<512].reduce(0) { $0 + Int($1) }
        let checksum = Array(String(sum, radix: 8).utf8)
        for k in 0..<6 { bytes[148 + k] = k < 6 - checksum.count ? UInt8(ascii: "0") : checksum[k - (6 - checksum.count)] }
        bytes[154] = 0
        return bytes
    }

    func testTarSizeFieldsThatAreNegativeOrHugeAreRefused() throws {
        XCTAssertEqual(try Tar.read(tar(sizeField: "00000000002")).map(\.name), ["a.json"])
        for field in ["-0000000001", "77777777777", "0x10"] {
            XCTAssertThrowsError(try Tar.read(tar(sizeField: field)), field) { error in
                let reason = (error as? Tar.ReadError)?.reason ?? "\(error)"
                XCTAssertTrue(reason == "bad size field" || reason.hasPrefix("member declares 8589934591 bytes"), "\(field): \(reason)")
            }
        }
    }

    func testANamedPipeOrADirectoryIsRefusedWithoutWaiting() throws {
        let folder = try temporaryFolder()
        let fifo = "\(folder)/manifest.jsonl"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let started = Date()
        XCTAssertThrowsError(try Files.read(fifo)) { XCTAssertEqual("\($0)", "\(fifo): not a regular file") }
        XCTAssertThrowsError(try ManifestReader(fifo)) { XCTAssertEqual("\($0)", "\(fifo): not a regular file") }
        XCTAssertThrowsError(try Tar.Reader(path: fifo)) { XCTAssertEqual("\($0)", "\(fifo): not a regular file") }
        XCTAssertThrowsError(try Files.contents(fifo)) { XCTAssertEqual("\($0)", "\(fifo): not a regular file") }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        try Files.createDirectory("\(folder)/dir")
        XCTAssertThrowsError(try ManifestReader("\(folder)/dir")) { XCTAssertEqual("\($0)", "\(folder)/dir: is a directory, not a file") }
    }

    func testFileContentsAreMappedAndEqualTheFilesBytes() throws {
        // pack-mix's keep path writes and hashes images from their mapping: the same bytes as a read,
        // an empty file included (nothing to map).
        let folder = try temporaryFolder()
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Files.writeAtomically(bytes, to: "\(folder)/image.png")
        try Files.writeAtomically([UInt8](), to: "\(folder)/empty.png")
        let contents = try Files.contents("\(folder)/image.png")
        XCTAssertTrue(contents is MappedFile)
        XCTAssertEqual(contents.count, 70_000)
        XCTAssertEqual(contents.withUnsafeBytes { Array($0) }, bytes)
        let empty = try Files.contents("\(folder)/empty.png")
        XCTAssertEqual(empty.count, 0)
        XCTAssertEqual(empty.withUnsafeBytes { $0.count }, 0)
        XCTAssertThrowsError(try Files.contents("\(folder)/missing.png")) {
            XCTAssertEqual("\($0)", "\(folder)/missing.png: No such file or directory")
        }
    }

    func testAnOutputFolderThatIsTheInputsIsRefused() throws {
        let folder = try temporaryFolder()
        try Files.writeAtomically("", to: "\(folder)/manifest.jsonl")
        XCTAssertThrowsError(try Files.checkOutput(folder, isNotInput: "\(folder)/manifest.jsonl"))
        XCTAssertThrowsError(try Files.checkOutput(folder + "/.", isNotInput: folder))
        XCTAssertNoThrow(try Files.checkOutput("\(folder)/out", isNotInput: folder))
    }
}
