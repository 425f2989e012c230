import Foundation
import SynmixCore
import SynmixFormats

/// `--image-format`: keep each image's own encoding, or re-encode all.
public enum ImageFormat: String, Sendable, CaseIterable {
    case keep, jpg, png

    /// The encoding an image stored as `source` gets in the shard.
    func encoding(of source: SampleRecord.ImageFormat) -> SampleRecord.ImageFormat {
        switch self {
        case .keep: source
        case .jpg: .jpg
        case .png: .png
        }
    }
}

/// How samples are written: image encoding and resolution.
public struct SampleOptions: Sendable {
    public var imageFormat: ImageFormat = .keep
    public var jpegQuality = 95
    public var pngLevel = 6
    public var scale: Double?
    public var maxSize: (width: Int, height: Int)?
    public var rootMap: [(old: String, new: String)] = []
    public init() {}

    var resizes: Bool { scale != nil || maxSize != nil }

    func targetSize(width: Int, height: Int) -> (width: Int, height: Int) {
        var factor = scale ?? 1
        if let maxSize { factor = min(factor, Double(maxSize.width) / Double(width), Double(maxSize.height) / Double(height)) }
        return factor == 1 ? (width, height) : Resize.size(width: width, height: height, scale: factor)
    }
}

/// One sample ready for a shard: its tar members' bytes, in pieces so that a
/// multi-megabyte image is written and hashed from its mapped file, without a copy.
struct BuiltSample: Sendable {
    var key: String
    var domain: Domain
    var classes: [String]
    var pieces: [any ByteSource]   // json member, image header(s), image bytes, padding

    var byteCount: Int { pieces.reduce(0) { $0 + $1.count } }
    var bytes: [UInt8] { pieces.flatMap { $0.withUnsafeBytes { Array($0) } } }
}

enum SampleBuilder {
    static func build(_ record: ManifestRecord, options: SampleOptions) throws(FileError) -> BuiltSample {
        var root = record.root
        for (old, new) in options.rootMap where root.hasPrefix(old) { root = new + root.dropFirst(old.count) }
        let imagePath = "\(root)/\(record.image)"
        let sourceFormat = SampleRecord.ImageFormat(fileName: record.image)
        let target = options.targetSize(width: record.width, height: record.height)

        let imageBytes: any ByteSource
        let format = options.imageFormat.encoding(of: sourceFormat)
        if options.imageFormat == .keep && !options.resizes {
            // The fast path copies the encoded bytes from the mapped file; only the header is checked.
            let file: any ByteSource
            do { file = try Files.contents(imagePath) } catch { throw FileError(path: imagePath, reason: "image unreadable: \(error)") }
            let size: (Int, Int)
            do {
                let start = file.withUnsafeBytes { Array($0.prefix(33)) }
                if sourceFormat == .png {
                    let header = try PNGCodec.header(of: start, path: imagePath)
                    size = (header.width, header.height)
                } else {
                    guard start.count > 3, start[0] == 0xFF, start[1] == 0xD8 else {
                        throw ImageError.corrupt(path: imagePath, reason: "not a JPEG file")
                    }
                    size = (record.width, record.height)
                }
            } catch {
                throw FileError(path: imagePath, reason: "\(error)")
            }
            guard size == (record.width, record.height) else {
                throw FileError(path: imagePath, reason: "image is \(size.0)x\(size.1), the record says \(record.width)x\(record.height)")
            }
            imageBytes = file
        } else {
            let bytes: [UInt8]
            do { bytes = try Files.read(imagePath) } catch { throw FileError(path: imagePath, reason: "image unreadable: \(error)") }
            do {
                var pixels = try sourceFormat.decode8Bit(bytes, path: imagePath)
                guard pixels.width == record.width, pixels.height == record.height else {
                    throw ImageError.unexpectedLayout(path: imagePath, reason: "image is \(pixels.width)x\(pixels.height), the record says \(record.width)x\(record.height)")
                }
                pixels = Resize.image(pixels, width: target.width, height: target.height)
                imageBytes = format == .jpg ? try JPEGCodec.encode(pixels, quality: options.jpegQuality)
                    : try PNGCodec.encode(pixels, level: options.pngLevel, filter: .sub)
            } catch {
                throw FileError(path: imagePath, reason: "\(error)")
            }
        }

        // Masks at the shard's resolution.
        var instances = record.instances
        var ignore = record.ignore
        if target != (record.width, record.height) {
            let resized = Resize.masks(record.instances.map(\.mask), ignore: record.ignore, width: target.width, height: target.height)
            instances = []
            for (instance, mask) in zip(record.instances, resized.instances) {
                guard let mask else { continue }   // too small to survive the resize
                var scaled = instance
                scaled.id = instances.count
                scaled.mask = mask
                if let amodal = instance.amodalBBox {
                    let sx = Double(target.width) / Double(record.width), sy = Double(target.height) / Double(record.height)
                    scaled.amodalBBox = [amodal[0] * sx, amodal[1] * sy, amodal[2] * sx, amodal[3] * sy]
                }
                instances.append(scaled)
            }
            ignore = resized.ignore
        }
        let key = Files.safeName(record.id)
        let json = SampleRecord(id: record.id, key: key, source: record.source, domain: record.domain, split: record.split,
                                width: target.width, height: target.height, originalWidth: record.width,
                                originalHeight: record.height, imageFormat: format, instances: instances, ignore: ignore).json
        let pieces: [any ByteSource] = [Tar.member(name: "\(key).json", data: Array(json.compact.utf8)),
                                        Tar.headers(name: "\(key).\(format.rawValue)", size: imageBytes.count), imageBytes,
                                        [UInt8](repeating: 0, count: Tar.padding(imageBytes.count))]
        return BuiltSample(key: key, domain: record.domain, classes: instances.filter { !$0.isCrowd }.map(\.className),
                           pieces: pieces)
    }
}
