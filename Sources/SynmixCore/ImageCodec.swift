import CImageShim

/// Decoded pixels: row-major, channels interleaved.
public struct Raster<Sample: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var samples: [Sample]   // [height][width][channels]

    public init(width: Int, height: Int, channels: Int, samples: [Sample]) {
        precondition(samples.count == width * height * channels, "raster size mismatch")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    public init(width: Int, height: Int, channels: Int, filling value: Sample = 0) {
        self.init(width: width, height: height, channels: channels,
                  samples: [Sample](repeating: value, count: width * height * channels))
    }
}

public enum ImageError: Error, CustomStringConvertible, Equatable {
    case corrupt(path: String, reason: String)
    case tooLarge(path: String, width: Int, height: Int, budget: Int)
    case unexpectedLayout(path: String, reason: String)
    case encodeFailed(reason: String)

    public var description: String {
        switch self {
        case let .corrupt(path, reason): return "\(path): cannot decode image: \(reason)"
        case let .tooLarge(path, width, height, budget):
            let pixels = width.multipliedReportingOverflow(by: height)
            return "\(path): image is \(width)x\(height) = \(pixels.overflow ? "more than \(Int.max)" : String(pixels.partialValue)) pixels, above the budget of \(budget) pixels"
        case let .unexpectedLayout(path, reason): return "\(path): \(reason)"
        case let .encodeFailed(reason): return "cannot encode image: \(reason)"
        }
    }
}

/// What a decoded PNG holds: 8-bit or 16-bit samples.
public enum PNGPixels: Sendable {
    case eightBit(Raster<UInt8>)
    case sixteenBit(Raster<UInt16>)

    public var width: Int { switch self { case .eightBit(let r): r.width; case .sixteenBit(let r): r.width } }
    public var height: Int { switch self { case .eightBit(let r): r.height; case .sixteenBit(let r): r.height } }
    public var channels: Int { switch self { case .eightBit(let r): r.channels; case .sixteenBit(let r): r.channels } }
    public var bitDepth: Int { switch self { case .eightBit: 8; case .sixteenBit: 16 } }
}

public struct PNGDecodeOptions: Sendable {
    /// Refuse images with more pixels than this before allocating anything.
    public var maxPixels: Int
    /// Keep palette indices (label PNGs) instead of expanding to RGB(A).
    public var paletteIndices: Bool
    /// Scale 16-bit samples to 8 bits.
    public var to8Bit: Bool
    /// Drop alpha (an RGBA instance PNG's alpha carries no id bits).
    public var stripAlpha: Bool
    /// Decode with libpng even where the direct libdeflate path applies (benchmark floors, tests).
    public var libpngOnly: Bool

    public static let defaultMaxPixels = 64 * 1024 * 1024

    public init(maxPixels: Int = PNGDecodeOptions.defaultMaxPixels, paletteIndices: Bool = false,
                to8Bit: Bool = false, stripAlpha: Bool = false, libpngOnly: Bool = false) {
        self.maxPixels = maxPixels
        self.paletteIndices = paletteIndices
        self.to8Bit = to8Bit
        self.stripAlpha = stripAlpha
        self.libpngOnly = libpngOnly
    }

    var flags: UInt32 {
        (paletteIndices ? UInt32(SYNMIX_PNG_PALETTE_INDICES) : 0)
            | (to8Bit ? UInt32(SYNMIX_PNG_TO_8BIT) : 0)
            | (stripAlpha ? UInt32(SYNMIX_PNG_STRIP_ALPHA) : 0)
            | (libpngOnly ? UInt32(SYNMIX_PNG_LIBPNG_ONLY) : 0)
    }
}

/// The IHDR of a PNG, read without decoding anything.
public struct PNGHeader: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var bitDepth: Int
    public var colorType: Int   // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA

    public init(width: Int, height: Int, bitDepth: Int, colorType: Int) {
        self.width = width
        self.height = height
        self.bitDepth = bitDepth
        self.colorType = colorType
    }
}

public enum PNGFilter: Sendable {
    case adaptive, none, sub
    var code: Int32 {
        switch self {
        case .adaptive: Int32(SYNMIX_PNG_FILTER_ADAPTIVE)
        case .none: Int32(SYNMIX_PNG_FILTER_NONE)
        case .sub: Int32(SYNMIX_PNG_FILTER_SUB)
        }
    }
}

private func message(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

public enum PNGCodec {
    private static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// The size an IHDR declares, against the pixel budget, before anything is allocated.
    static func checkDeclaredSize(_ declared: PNGHeader, path: String, maxPixels: Int) throws {
        guard declared.width > 0, declared.height > 0 else {
            throw ImageError.corrupt(path: path, reason: "IHDR declares \(declared.width)x\(declared.height) pixels")
        }
        guard declared.width <= maxPixels, declared.height <= maxPixels,
              declared.width * declared.height <= maxPixels else {
            throw ImageError.tooLarge(path: path, width: declared.width, height: declared.height, budget: maxPixels)
        }
    }

    /// Parses the IHDR chunk (the first 33 bytes suffice).
    public static func header(of bytes: [UInt8], path: String) throws -> PNGHeader {
        guard bytes.count >= 33, Array(bytes[0..<8]) == signature,
              Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw ImageError.corrupt(path: path, reason: "not a PNG file (no PNG signature and IHDR chunk)")
        }
        func be32(_ offset: Int) -> Int {
            Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
        }
        return PNGHeader(width: be32(16), height: be32(20), bitDepth: Int(bytes[24]), colorType: Int(bytes[25]))
    }

    public static func decode(_ bytes: [UInt8], path: String,
                              options: PNGDecodeOptions = PNGDecodeOptions()) throws -> PNGPixels {
        // The declared size is checked before libpng sees the file: libpng sizes its row
        // buffers from IHDR while reading the header, so a 300-byte file declaring a width
        // of 2³¹−1 would otherwise allocate gigabytes before the budget applies.
        // Without a signature and IHDR libpng refuses the file below and names the fault.
        if let declared = try? header(of: bytes, path: path) {
            try checkDeclaredSize(declared, path: path, maxPixels: options.maxPixels)
        }
        var error = [CChar](repeating: 0, count: Int(SYNMIX_ERROR_SIZE))
        var info = synmix_png_info()
        let flags = options.flags
        let rc = bytes.withUnsafeBufferPointer { data in
            synmix_png_info_read(data.baseAddress, data.count, flags, &info, &error)
        }
        guard rc == 0 else { throw ImageError.corrupt(path: path, reason: message(error)) }
        let width = Int(info.width), height = Int(info.height), channels = Int(info.channels)
        let count = width * height * channels
        if info.bit_depth == 16 {
            var failed = false
            let samples = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                failed = bytes.withUnsafeBufferPointer { data in
                    synmix_png_decode(data.baseAddress, data.count, flags,
                                      raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, &error)
                } != 0
                if failed { raw.initializeMemory(as: UInt8.self, repeating: 0) }
                initialized = count
            }
            if failed { throw ImageError.corrupt(path: path, reason: message(error)) }
            return .sixteenBit(Raster(width: width, height: height, channels: channels, samples: samples))
        } else {
            var failed = false
            let samples = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                failed = bytes.withUnsafeBufferPointer { data in
                    synmix_png_decode(data.baseAddress, data.count, flags, buffer.baseAddress, buffer.count, &error)
                } != 0
                if failed { buffer.initialize(repeating: 0) }
                initialized = count
            }
            if failed { throw ImageError.corrupt(path: path, reason: message(error)) }
            return .eightBit(Raster(width: width, height: height, channels: channels, samples: samples))
        }
    }

    /// Encodes 8-bit gray (1), RGB (3) or RGBA (4) pixels.
    public static func encode(_ raster: Raster<UInt8>, level: Int = 6, filter: PNGFilter = .adaptive) throws -> [UInt8] {
        try raster.samples.withUnsafeBytes { pixels in
            try encode(pixels, raster.width, raster.height, raster.channels, 8, level, filter)
        }
    }

    /// Encodes 16-bit gray (1 channel) pixels, e.g. Cityscapes instance ids.
    public static func encode(_ raster: Raster<UInt16>, level: Int = 6, filter: PNGFilter = .adaptive) throws -> [UInt8] {
        try raster.samples.withUnsafeBytes { pixels in
            try encode(pixels, raster.width, raster.height, raster.channels, 16, level, filter)
        }
    }

    private static func encode(_ pixels: UnsafeRawBufferPointer, _ width: Int, _ height: Int, _ channels: Int,
                               _ bitDepth: Int, _ level: Int, _ filter: PNGFilter) throws -> [UInt8] {
        var error = [CChar](repeating: 0, count: Int(SYNMIX_ERROR_SIZE))
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let rc = synmix_png_encode(pixels.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                   UInt32(width), UInt32(height), Int32(channels), Int32(bitDepth),
                                   Int32(max(0, min(9, level))), filter.code, &out, &size, &error)
        guard rc == 0, let out else { throw ImageError.encodeFailed(reason: message(error)) }
        defer { synmix_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}

public enum JPEGCodec {
    /// The size a JPEG's frame header declares (nothing decoded).
    public static func declaredSize(of bytes: [UInt8], path: String) throws -> (width: Int, height: Int) {
        var error = [CChar](repeating: 0, count: Int(SYNMIX_ERROR_SIZE))
        var width: UInt32 = 0, height: UInt32 = 0
        var channels: Int32 = 0
        let rc = bytes.withUnsafeBufferPointer { data in
            synmix_jpeg_info_read(data.baseAddress, data.count, &width, &height, &channels, &error)
        }
        guard rc == 0 else { throw ImageError.corrupt(path: path, reason: message(error)) }
        return (Int(width), Int(height))
    }

    /// Decodes to 8-bit gray (1 channel) or RGB (3 channels).
    public static func decode(_ bytes: [UInt8], path: String,
                              maxPixels: Int = PNGDecodeOptions.defaultMaxPixels) throws -> Raster<UInt8> {
        var error = [CChar](repeating: 0, count: Int(SYNMIX_ERROR_SIZE))
        var width: UInt32 = 0, height: UInt32 = 0
        var channels: Int32 = 0
        let rc = bytes.withUnsafeBufferPointer { data in
            synmix_jpeg_info_read(data.baseAddress, data.count, &width, &height, &channels, &error)
        }
        guard rc == 0 else { throw ImageError.corrupt(path: path, reason: message(error)) }
        guard Int(width) * Int(height) <= maxPixels else {
            throw ImageError.tooLarge(path: path, width: Int(width), height: Int(height), budget: maxPixels)
        }
        let count = Int(width) * Int(height) * Int(channels)
        var failed = false
        let samples = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            failed = bytes.withUnsafeBufferPointer { data in
                synmix_jpeg_decode(data.baseAddress, data.count, buffer.baseAddress, buffer.count, &error)
            } != 0
            if failed { buffer.initialize(repeating: 0) }
            initialized = count
        }
        if failed { throw ImageError.corrupt(path: path, reason: message(error)) }
        return Raster(width: Int(width), height: Int(height), channels: Int(channels), samples: samples)
    }

    /// Encodes 8-bit gray or RGB at `quality` (1...100, libjpeg's scale; 4:2:0 chroma for RGB).
    public static func encode(_ raster: Raster<UInt8>, quality: Int = 95) throws -> [UInt8] {
        var error = [CChar](repeating: 0, count: Int(SYNMIX_ERROR_SIZE))
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let rc = raster.samples.withUnsafeBufferPointer { pixels in
            synmix_jpeg_encode(pixels.baseAddress, UInt32(raster.width), UInt32(raster.height),
                               Int32(raster.channels), Int32(max(1, min(100, quality))), &out, &size, &error)
        }
        guard rc == 0, let out else { throw ImageError.encodeFailed(reason: message(error)) }
        defer { synmix_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
