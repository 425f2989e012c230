import XCTest
@testable import SynmixCore

/// Vectors computed with pycocotools 2.0.11.
final class RLETests: XCTestCase {
    private func mask(_ height: Int, _ width: Int, ones: [(Int, Int)]) -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: height * width)
        for (row, column) in ones { mask[row * width + column] = 1 }
        return mask
    }

    func testEmptyMaskMatchesPycocotools() {
        let rle = RLE.encode(mask: mask(4, 5, ones: []), height: 4, width: 5)
        XCTAssertEqual(rle.counts, [20])
        XCTAssertEqual(rle.string, "d0")
        XCTAssertEqual(rle.area, 0)
        XCTAssertEqual(rle.bbox, [0, 0, 0, 0])
    }

    func testFullMaskMatchesPycocotools() {
        let rle = RLE.encode(mask: [UInt8](repeating: 1, count: 20), height: 4, width: 5)
        XCTAssertEqual(rle.counts, [0, 20])
        XCTAssertEqual(rle.string, "0d0")
        XCTAssertEqual(rle.area, 20)
        XCTAssertEqual(rle.bbox, [0, 0, 5, 4])
    }

    func testSinglePixelMasksMatchPycocotools() {
        let last = RLE.encode(mask: mask(4, 5, ones: [(3, 4)]), height: 4, width: 5)
        XCTAssertEqual(last.counts, [19, 1])
        XCTAssertEqual(last.string, "c01")
        XCTAssertEqual(last.bbox, [4, 3, 1, 1])
        let inner = RLE.encode(mask: mask(4, 5, ones: [(1, 2)]), height: 4, width: 5)
        XCTAssertEqual(inner.counts, [9, 1, 10])
        XCTAssertEqual(inner.string, "91:")
        XCTAssertEqual(inner.area, 1)
        XCTAssertEqual(inner.bbox, [2, 1, 1, 1])
    }

    func testRectangleMatchesPycocotools() {
        var ones: [(Int, Int)] = []
        for row in 2..<8 { for column in 3..<7 { ones.append((row, column)) } }
        let rle = RLE.encode(mask: mask(10, 10, ones: ones), height: 10, width: 10)
        XCTAssertEqual(rle.counts, [32, 6, 4, 6, 4, 6, 4, 6, 32])
        XCTAssertEqual(rle.string, "P16400000l0")
        XCTAssertEqual(rle.area, 24)
        XCTAssertEqual(rle.bbox, [3, 2, 4, 6])
    }

    func testThreeByFourExampleFromCityscapesNotes() {
        let rle = RLE.encode(mask: mask(3, 4, ones: [(1, 1), (2, 1), (0, 3)]), height: 3, width: 4)
        XCTAssertEqual(rle.counts, [4, 2, 3, 1, 2])
        XCTAssertEqual(rle.string, "423OO")
    }

    func testCodecVectorsWithLargeAndNegativeDeltas() throws {
        let vectors: [([UInt32], String)] = [
            ([1_000_000, 5, 3, 999_990, 2], "Pb`n053aa`n0O"),
            ([0, 268_435_456, 3, 1], "0PPPPP83QPPPPH"),
            ([7, 100_000, 3, 5], "7PeQ33U[nL"),
            ([5, 1 << 30], "5PPPPPP1"),
            ([1, UInt32.max - 1], "1nooooo3"),
            ([0, 5, 3, 4], "053O"),
        ]
        for (counts, expected) in vectors {
            let total = counts.reduce(0) { $0 + Int($1) }
            let rle = try RLE(counts: counts, height: total, width: 1)
            XCTAssertEqual(rle.string, expected, "\(counts)")
            XCTAssertEqual(try RLE(string: expected, height: total, width: 1).counts, counts, expected)
        }
    }

    func testDecodeInvertsEncode() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<50 {
            let height = Int(generator.next() % 17) + 1, width = Int(generator.next() % 13) + 1
            let pixels = (0..<(height * width)).map { _ in UInt8(generator.next() % 3 == 0 ? 1 : 0) }
            let rle = RLE.encode(mask: pixels, height: height, width: width)
            XCTAssertEqual(rle.decode(), pixels)
            XCTAssertEqual(rle.area, pixels.reduce(0) { $0 + Int($1) })
            XCTAssertEqual(try RLE(string: rle.string, height: height, width: width), rle)
        }
    }

    func testNonCanonicalAndMalformedInputIsRejected() {
        XCTAssertThrowsError(try RLE(counts: [2, 0, 3, 1, 14], height: 4, width: 5)) { error in
            XCTAssertEqual("\(error)", "invalid RLE: zero-length run at index 1 (non-canonical RLE)")
        }
        XCTAssertThrowsError(try RLE(counts: [3, 4], height: 4, width: 5)) { error in
            XCTAssertEqual("\(error)", "invalid RLE: runs cover 7 pixels, size [4, 5] has 20")
        }
        XCTAssertThrowsError(try RLE(string: "d0\"", height: 4, width: 5))
        XCTAssertThrowsError(try RLE(string: "`", height: 4, width: 5))   // continuation with nothing after it
    }

    func testUnionIntersectionAndSubtractionFollowPixels() {
        let a = mask(6, 7, ones: [(0, 0), (1, 0), (2, 3), (5, 6), (4, 4)])
        let b = mask(6, 7, ones: [(1, 0), (2, 3), (3, 3), (0, 6)])
        let ra = RLE.encode(mask: a, height: 6, width: 7), rb = RLE.encode(mask: b, height: 6, width: 7)
        XCTAssertEqual(ra.union(rb), RLE.encode(mask: zip(a, b).map { $0 | $1 }, height: 6, width: 7))
        XCTAssertEqual(ra.intersection(rb), RLE.encode(mask: zip(a, b).map { $0 & $1 }, height: 6, width: 7))
        XCTAssertEqual(ra.subtracting(rb), RLE.encode(mask: zip(a, b).map { $0 & ~$1 & 1 }, height: 6, width: 7))
        XCTAssertEqual(ra.intersectionArea(rb), 2)
        XCTAssertEqual(RLE.union([ra, rb], height: 6, width: 7).area, 7)
    }

    func testIoUUsesDetectionAreaAgainstCrowd() {
        var a = [UInt8](repeating: 0, count: 100), b = [UInt8](repeating: 0, count: 100)
        for row in 0..<10 { for column in 0..<4 { a[row * 10 + column] = 1 } }   // 40 px
        for row in 0..<10 { for column in 2..<10 { b[row * 10 + column] = 1 } }  // 80 px, 20 shared
        let dt = RLE.encode(mask: a, height: 10, width: 10), gt = RLE.encode(mask: b, height: 10, width: 10)
        XCTAssertEqual(RLE.iou(detection: dt, groundTruth: gt, groundTruthIsCrowd: false), 20.0 / 100.0)
        XCTAssertEqual(RLE.iou(detection: dt, groundTruth: gt, groundTruthIsCrowd: true), 20.0 / 40.0)
        let empty = RLE.empty(height: 10, width: 10)
        XCTAssertEqual(RLE.iou(detection: empty, groundTruth: empty, groundTruthIsCrowd: false), 0)
    }

    func testRegionEncoderMatchesPerValueEncoding() {
        var generator = SplitMix64(seed: 3)
        let height = 23, width = 31
        var labels = [UInt16](repeating: 0, count: height * width)
        for _ in 0..<12 {   // overlapping rectangles of a few ids
            let id = UInt16(generator.next() % 5) * 1000 + UInt16(generator.next() % 3)
            let x0 = Int(generator.next() % UInt64(width)), y0 = Int(generator.next() % UInt64(height))
            for y in y0..<min(height, y0 + 9) { for x in x0..<min(width, x0 + 11) { labels[y * width + x] = id } }
        }
        let regions = labels.withUnsafeBufferPointer { RegionEncoder.encode($0, height: height, width: width) }
        XCTAssertEqual(regions.map(\.label), Array(Set(labels)).sorted())
        for (label, mask) in regions {
            XCTAssertEqual(mask, RLE.encode(mask: labels.map { $0 == label ? 1 : 0 }, height: height, width: width))
        }
        let wide = labels.map { UInt32($0) * 70_001 }
        let wideRegions = wide.withUnsafeBufferPointer { RegionEncoder.encode($0, height: height, width: width) }
        XCTAssertEqual(wideRegions.map(\.mask), regions.map(\.mask))
    }
}
