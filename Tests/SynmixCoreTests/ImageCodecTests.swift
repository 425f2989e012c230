import XCTest
@testable import SynmixCore
import TestSupport

final class ImageCodecTests: XCTestCase {
    // MARK: Hand-built PNGs (stored deflate blocks: no zlib needed in the test)

    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)] }

    private func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    /// A PNG from raw (already filtered with filter 0) scanlines, with optional extra chunks before IDAT.
    private func handPNG(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, rows: [[UInt8]], extra: [[UInt8]] = []) -> [UInt8] {
        let raw: [UInt8] = rows.flatMap { row -> [UInt8] in [0] + row }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        let length = UInt16(raw.count), inverse = ~UInt16(raw.count)
        var stored: [UInt8] = [0x78, 0x01, 0x01, UInt8(length & 0xff), UInt8(length >> 8), UInt8(inverse & 0xff), UInt8(inverse >> 8)]
        stored += raw
        stored += be32(b << 16 | a)
        var header = be32(UInt32(width))
        header += be32(UInt32(height))
        header += [bitDepth, colorType, 0, 0, 0]
        var png: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        png += chunk("IHDR", header)
        for extraChunk in extra { png += extraChunk }
        png += chunk("IDAT", stored)
        png += chunk("IEND", [])
        return png
    }

    func testSixteenBitIdsRoundTripExactly() throws {
        let ids: [UInt16] = [0, 1, 7, 999, 1000, 26001, 33999, 65535, 24000, 12345, 2, 3]
        let raster = Raster(width: 4, height: 3, channels: 1, samples: ids)
        for level in [1, 6, 9] {
            let png = try PNGCodec.encode(raster, level: level)
            XCTAssertEqual(try PNGCodec.header(of: png, path: "x"), PNGHeader(width: 4, height: 3, bitDepth: 16, colorType: 0))
            guard case .sixteenBit(let decoded) = try PNGCodec.decode(png, path: "x") else { return XCTFail("not 16-bit") }
            XCTAssertEqual(decoded, raster)
        }
    }

    func testSixteenBitIdsIgnoreGammaChunks() throws {
        // The simplified libpng API alters 16-bit values when gAMA/sRGB is present; ours must not.
        let row: [UInt8] = [0x65, 0x90, 0x00, 0x07, 0xFF, 0xFF]   // 26000, 7, 65535 big-endian
        let png = handPNG(width: 3, height: 1, bitDepth: 16, colorType: 0, rows: [row],
                          extra: [chunk("gAMA", be32(45455)), chunk("sRGB", [0])])
        guard case .sixteenBit(let decoded) = try PNGCodec.decode(png, path: "gamma.png") else { return XCTFail("not 16-bit") }
        XCTAssertEqual(decoded.samples, [26000, 7, 65535])
    }

    func testPaletteDecodesToIndicesOrColours() throws {
        let palette = chunk("PLTE", [10, 20, 30, 200, 100, 50, 0, 0, 255])
        let png = handPNG(width: 3, height: 2, bitDepth: 8, colorType: 3, rows: [[0, 1, 2], [2, 2, 0]], extra: [palette])
        guard case .eightBit(let indices) = try PNGCodec.decode(png, path: "p", options: PNGDecodeOptions(paletteIndices: true)) else {
            return XCTFail("not 8-bit")
        }
        XCTAssertEqual(indices.channels, 1)
        XCTAssertEqual(indices.samples, [0, 1, 2, 2, 2, 0])
        guard case .eightBit(let rgb) = try PNGCodec.decode(png, path: "p") else { return XCTFail("not 8-bit") }
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(Array(rgb.samples.prefix(6)), [10, 20, 30, 200, 100, 50])
        let transparent = handPNG(width: 3, height: 2, bitDepth: 8, colorType: 3, rows: [[0, 1, 2], [2, 2, 0]],
                                  extra: [palette, chunk("tRNS", [0, 128])])
        guard case .eightBit(let rgba) = try PNGCodec.decode(transparent, path: "p") else { return XCTFail("not 8-bit") }
        XCTAssertEqual(rgba.channels, 4)
        XCTAssertEqual(Array(rgba.samples.prefix(12)), [10, 20, 30, 0, 200, 100, 50, 128, 0, 0, 255, 255])
    }

    func testEightBitLayoutsRoundTrip() throws {
        var generator = SplitMix64(seed: 11)
        for channels in [1, 3, 4] {
            let samples = (0..<(7 * 5 * channels)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let raster = Raster(width: 7, height: 5, channels: channels, samples: samples)
            for filter in [PNGFilter.adaptive, .none, .sub] {
                let png = try PNGCodec.encode(raster, level: 3, filter: filter)
                guard case .eightBit(let decoded) = try PNGCodec.decode(png, path: "x") else { return XCTFail() }
                XCTAssertEqual(decoded, raster, "channels \(channels)")
            }
        }
        let rgba = Raster<UInt8>(width: 2, height: 1, channels: 4, samples: [1, 2, 3, 4, 5, 6, 7, 8])
        guard case .eightBit(let stripped) = try PNGCodec.decode(try PNGCodec.encode(rgba), path: "x",
                                                                 options: PNGDecodeOptions(stripAlpha: true)) else { return XCTFail() }
        XCTAssertEqual(stripped.samples, [1, 2, 3, 5, 6, 7])
    }

    func testCorruptAndTruncatedPNGsAreErrorsNotCrashes() throws {
        XCTAssertThrowsError(try PNGCodec.decode(Array("GIF89a".utf8), path: "a.png")) { error in
            XCTAssertEqual("\(error)", "a.png: cannot decode image: not a PNG file (bad signature)")
        }
        let png = try PNGCodec.encode(Raster<UInt8>(width: 64, height: 64, channels: 3, samples: (0..<(64 * 64 * 3)).map { UInt8($0 % 251) }))
        XCTAssertThrowsError(try PNGCodec.decode(Array(png.prefix(png.count / 2)), path: "b.png")) { error in
            guard case ImageError.corrupt(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "b.png")
        }
        var flipped = png
        flipped[png.count / 2] ^= 0xFF
        XCTAssertThrowsError(try PNGCodec.decode(flipped, path: "c.png"))
    }

    func testImagesAboveThePixelBudgetAreRefusedBeforeDecoding() throws {
        let png = try PNGCodec.encode(Raster<UInt8>(width: 100, height: 50, channels: 1))
        XCTAssertThrowsError(try PNGCodec.decode(png, path: "big.png", options: PNGDecodeOptions(maxPixels: 4999))) { error in
            XCTAssertEqual(error as? ImageError, .tooLarge(path: "big.png", width: 100, height: 50, budget: 4999))
        }
        XCTAssertNoThrow(try PNGCodec.decode(png, path: "big.png", options: PNGDecodeOptions(maxPixels: 5000)))
    }

    func testJPEGRoundTripsCloselyAtHighQuality() throws {
        var samples: [UInt8] = []
        for y in 0..<48 { for x in 0..<64 { samples += [UInt8(x * 4), UInt8(y * 5), UInt8((x + y) * 2)] } }
        let raster = Raster(width: 64, height: 48, channels: 3, samples: samples)
        let jpeg = try JPEGCodec.encode(raster, quality: 95)
        let decoded = try JPEGCodec.decode(jpeg, path: "x.jpg")
        XCTAssertEqual([decoded.width, decoded.height, decoded.channels], [64, 48, 3])
        let meanError = zip(decoded.samples, samples).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(samples.count)
        XCTAssertLessThan(meanError, 2.0)
        let gray = Raster(width: 64, height: 48, channels: 1, samples: (0..<(64 * 48)).map { UInt8($0 % 200) })
        XCTAssertEqual(try JPEGCodec.decode(try JPEGCodec.encode(gray, quality: 90), path: "g.jpg").channels, 1)
        XCTAssertLessThan(try JPEGCodec.encode(raster, quality: 30).count, jpeg.count)
    }

    func testCorruptAndTruncatedJPEGsAreErrorsNotExits() throws {
        XCTAssertThrowsError(try JPEGCodec.decode(Array("BBBBBBBB".utf8), path: "a.jpg")) { error in
            XCTAssertEqual("\(error)", "a.jpg: cannot decode image: Not a JPEG file: starts with 0x42 0x42")
        }
        let jpeg = try JPEGCodec.encode(Raster<UInt8>(width: 64, height: 64, channels: 3, samples: (0..<(64 * 64 * 3)).map { UInt8($0 % 253) }))
        XCTAssertThrowsError(try JPEGCodec.decode(Array(jpeg.prefix(jpeg.count * 2 / 3)), path: "t.jpg")) { error in
            XCTAssertEqual("\(error)", "t.jpg: cannot decode image: Premature end of JPEG file")
        }
    }
}

/// The direct (libdeflate) PNG path against libpng on the same files.
final class DirectPNGPathTests: XCTestCase {
    private func decodeBoth(_ png: [UInt8], _ options: PNGDecodeOptions = PNGDecodeOptions()) throws -> (PNGPixels, PNGPixels) {
        var reference = options
        reference.libpngOnly = true
        return (try PNGCodec.decode(png, path: "direct.png", options: options),
                try PNGCodec.decode(png, path: "libpng.png", options: reference))
    }

    private func samples(_ pixels: PNGPixels) -> [UInt16] {
        switch pixels {
        case .eightBit(let raster): raster.samples.map(UInt16.init)
        case .sixteenBit(let raster): raster.samples
        }
    }

    func testDirectPathAgreesWithLibpngOnEveryLayoutAndFilter() throws {
        var generator = SplitMix64(seed: 5)
        var compared = 0
        for (width, height) in [(1, 1), (3, 7), (97, 41), (300, 200)] {
            for channels in [1, 3, 4] {
                // Smooth gradients plus noise and flat patches make libpng pick every filter type.
                let count = width * height * channels
                let eight = (0..<count).map { i -> UInt8 in
                    let x = (i / channels) % width, y = i / channels / width
                    return i % 7 == 0 ? UInt8(truncatingIfNeeded: generator.next()) : UInt8(truncatingIfNeeded: x * 3 + y * 5 + i % channels * 40)
                }
                for filter in [PNGFilter.adaptive, .none, .sub] {
                    let png = try PNGCodec.encode(Raster(width: width, height: height, channels: channels, samples: eight), level: 6, filter: filter)
                    let (direct, reference) = try decodeBoth(png)
                    XCTAssertEqual(samples(direct), samples(reference), "\(width)x\(height)x\(channels) \(filter)")
                    compared += 1
                }
            }
            let wide = (0..<(width * height)).map { i -> UInt16 in
                i % 5 == 0 ? UInt16(truncatingIfNeeded: generator.next()) : UInt16(26000 + (i % width) / 10 + (i / width) / 10 * 1000)
            }
            let png = try PNGCodec.encode(Raster(width: width, height: height, channels: 1, samples: wide))
            let (direct, reference) = try decodeBoth(png)
            XCTAssertEqual(samples(direct), wide)
            XCTAssertEqual(samples(reference), wide)
            compared += 1
        }
        XCTAssertEqual(compared, 40)
    }

    func testDirectPathAgreesWithLibpngOnTheFixtures() throws {
        let fixtures = fixturesFolder
        let files = FileManager.default.enumerator(atPath: fixtures)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".png") }
        XCTAssertEqual(files.count, 39)   // 6 Cityscapes frames × 4 PNGs + 5 Synscapes frames × 3
        for file in files {
            let (direct, reference) = try decodeBoth(try Files.read("\(fixtures)/\(file)"))
            XCTAssertEqual(samples(direct), samples(reference), file)
            XCTAssertEqual(direct.channels, reference.channels, file)
        }
    }

    func testDirectPathRejectsDamagedFiles() throws {
        let png = try PNGCodec.encode(Raster<UInt16>(width: 64, height: 64, channels: 1, samples: (0..<4096).map { UInt16($0 * 13) }))
        var flipped = png
        flipped[png.count - 30] ^= 0x01
        XCTAssertThrowsError(try PNGCodec.decode(flipped, path: "f.png")) { error in
            XCTAssertEqual("\(error)", "f.png: cannot decode image: CRC error in chunk IDAT")
        }
        XCTAssertThrowsError(try PNGCodec.decode(Array(png.prefix(png.count - 12)), path: "t.png")) { error in
            XCTAssertEqual("\(error)", "t.png: cannot decode image: truncated file: no IEND chunk")
        }
        XCTAssertThrowsError(try PNGCodec.decode(Array(png.prefix(png.count / 2)), path: "h.png")) { error in
            XCTAssertEqual("\(error)", "h.png: cannot decode image: truncated file: chunk IDAT runs past the end")
        }
    }
}
