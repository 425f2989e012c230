import Foundation
import SynmixCore

/// One image in the unified taxonomy (docs/formats.md). Self-contained: it
/// carries its dataset root, so manifests concatenate and mix freely.
public struct ManifestRecord: Sendable, Equatable {
    public var id: String
    public var source: String
    public var domain: Domain
    public var split: Split
    public var root: String
    public var image: String       // relative to root
    public var width: Int
    public var height: Int
    public var instances: [InstanceRecord]
    public var ignore: RLE?        // nil when no pixel is ignored

    public init(id: String, source: String, domain: Domain, split: Split, root: String, image: String,
                width: Int, height: Int, instances: [InstanceRecord], ignore: RLE?) {
        self.id = id
        self.source = source
        self.domain = domain
        self.split = split
        self.root = root
        self.image = image
        self.width = width
        self.height = height
        self.instances = instances
        self.ignore = ignore
    }

    /// Key order as docs/formats.md lists it (part of the byte format).
    public var json: JSON {
        .object([
            ("id", .string(id)), ("source", .string(source)), ("domain", .string(domain.rawValue)),
            ("split", .string(split.rawValue)), ("root", .string(root)), ("image", .string(image)),
            ("width", .int(width)), ("height", .int(height)),
            ("instances", .array(instances.map(\.json))),
            ("ignore", ignore.map(\.json) ?? .null),
        ])
    }

    /// One manifest line, without the trailing newline.
    public var jsonLine: String { json.compact }
}

public struct InstanceRecord: Sendable, Equatable {
    public var id: Int             // index in the record's instance list
    public var className: String   // unified class name
    public var isCrowd: Bool
    public var mask: RLE
    public var sourceId: Int       // the id in the source dataset (Cityscapes pixel value, Synscapes instance id)
    public var occlusion: Double?  // synthetic only: fraction hidden behind other objects
    public var truncation: Double? // synthetic only: fraction outside the image
    public var amodalBBox: [Double]?  // synthetic only: [x, y, w, h] in pixels, unclamped

    public init(id: Int, className: String, isCrowd: Bool, mask: RLE, sourceId: Int,
                occlusion: Double? = nil, truncation: Double? = nil, amodalBBox: [Double]? = nil) {
        self.id = id
        self.className = className
        self.isCrowd = isCrowd
        self.mask = mask
        self.sourceId = sourceId
        self.occlusion = occlusion
        self.truncation = truncation
        self.amodalBBox = amodalBBox
    }

    public var area: Int { mask.area }
    public var bbox: [Int] { mask.bbox }

    public var json: JSON {
        var fields: [(String, JSON)] = [
            ("id", .int(id)), ("class", .string(className)), ("iscrowd", .int(isCrowd ? 1 : 0)),
            ("area", .int(area)), ("bbox", .array(bbox.map { .int($0) })),
            ("mask", mask.json), ("source_id", .int(sourceId)),
        ]
        if let occlusion { fields.append(("occlusion", .double(occlusion))) }
        if let truncation { fields.append(("truncation", .double(truncation))) }
        if let amodalBBox { fields.append(("amodal_bbox", .array(amodalBBox.map { .double($0) }))) }
        return .object(fields)
    }
}

extension ManifestRecord {
    /// Parses one manifest line; errors name the file, the line and the field.
    public init(jsonLine: Substring, file: String, line: Int) throws {
        func fail(_ reason: String) -> ManifestError { ManifestError(file: file, line: line, reason: reason) }
        let value: JSON
        do {
            value = try JSON.parse(jsonLine)
        } catch {
            throw fail("not valid JSON: \(error)")
        }
        try self.init(value: value, fail: fail)
    }

    private init(value: JSON, fail: @escaping (String) -> ManifestError) throws {
        guard case .object = value else { throw fail("a manifest line must be a JSON object") }
        let reader = FieldReader(value: value, fail: fail)
        id = try reader.string("id")
        source = try reader.string("source")
        domain = try reader.choice("domain")
        split = try reader.choice("split")
        root = try reader.string("root")
        image = try reader.string("image")
        width = try reader.int("width")
        height = try reader.int("height")
        (instances, ignore) = try reader.annotations(width: width, height: height)
    }
}

extension ManifestRecord {
    /// What a mix plan needs of a manifest line, without decoding its masks.
    public struct Header: Sendable, Equatable {
        public var id: String, split: Split, domain: Domain
    }

    /// Why a manifest line is not a record (the reader adds the file and the line number).
    public enum LineProblem: Error, Equatable, CustomStringConvertible {
        case notJSON(String)
        case noHeader
        case unknownSplitOrDomain(split: String, domain: String)

        public var description: String {
            switch self {
            case .notJSON(let detail): "not valid JSON: \(detail)"
            case .noHeader: "a record needs string id, split and domain"
            case .unknownSplitOrDomain(let split, let domain):
                "split '\(split)' or domain '\(domain)' is not one a record can have "
                    + "(\(Split.allCases.map(\.rawValue).joined(separator: ", ")); \(Domain.allCases.map(\.rawValue).joined(separator: ", ")))"
            }
        }
    }

    /// The id, split and domain of a manifest line, or why the line is not a record.
    public static func header(ofLine line: Substring) -> Result<Header, LineProblem> {
        let value: JSON
        do { value = try JSON.parse(line) } catch { return .failure(.notJSON("\(error)")) }
        guard let id = value["id"]?.stringValue, let split = value["split"]?.stringValue, let domain = value["domain"]?.stringValue else {
            return .failure(.noHeader)
        }
        guard let knownSplit = Split(rawValue: split), let knownDomain = Domain(rawValue: domain) else {
            return .failure(.unknownSplitOrDomain(split: split, domain: domain))
        }
        return .success(Header(id: id, split: knownSplit, domain: knownDomain))
    }
}

extension FieldReader {
    /// `instances` and `ignore` of a record of `width` × `height` pixels (the
    /// manifest's and the shard sample's rule), after checking that size.
    func annotations(width: Int, height: Int) throws -> (instances: [InstanceRecord], ignore: RLE?) {
        // Every later stage allocates width × height maps for a record: the same budget as an image's.
        guard width > 0, height > 0, width <= PNGDecodeOptions.defaultMaxPixels, height <= PNGDecodeOptions.defaultMaxPixels,
              width * height <= PNGDecodeOptions.defaultMaxPixels else {
            throw fail("image size \(width)x\(height) is outside 1 … \(PNGDecodeOptions.defaultMaxPixels) pixels")
        }
        guard let rawInstances = value["instances"]?.arrayValue else { throw fail("missing or non-array field 'instances'") }
        let instances = try rawInstances.enumerated().map { index, raw in
            guard case .object = raw else { throw fail("instances[\(index)] is not an object") }
            let instance = FieldReader(value: raw) { fail("instances[\(index)]: \($0)") }
            let mask = try instance.rle("mask")
            guard mask.height == height, mask.width == width else {
                throw fail("instances[\(index)]: mask size [\(mask.height), \(mask.width)] is not the image's [\(height), \(width)]")
            }
            return InstanceRecord(
                id: try instance.int("id"), className: try instance.string("class"),
                isCrowd: try instance.int("iscrowd") != 0, mask: mask, sourceId: try instance.int("source_id"),
                occlusion: try instance.optionalFraction("occlusion"),
                truncation: try instance.optionalFraction("truncation"),
                amodalBBox: try instance.optionalDoubles("amodal_bbox"))
        }
        guard let ignoreValue = value["ignore"] else { throw fail("missing field 'ignore' (null when empty)") }
        let ignore = ignoreValue.isNull ? nil : try rle("ignore")
        if let ignore, ignore.height != height || ignore.width != width {
            throw fail("ignore size [\(ignore.height), \(ignore.width)] is not the image's [\(height), \(width)]")
        }
        return (instances, ignore)
    }
}


extension Taxonomy {
    /// Why a record's instances do not belong to this taxonomy (the first whose class is not one of
    /// its instance classes), or nil: the check every stage after the readers applies to records.
    public func foreignInstance(in instances: [InstanceRecord]) -> String? {
        guard let unknown = instances.first(where: { instance in !classes.contains { $0.hasInstances && $0.name == instance.className } }) else {
            return nil
        }
        return "instance \(unknown.id) has class '\(unknown.className)', which is not an instance class of the taxonomy"
    }
}
