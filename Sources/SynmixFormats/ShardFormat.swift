import Foundation
import SynmixCore

/// The shard format's two JSON documents, each written and read only here:
/// a sample's `KEY.json` (`SampleRecord`) and the folder's `index.json`
/// (`ShardIndex`). A shard is a POSIX tar of `KEY.json` + `KEY.png|jpg` pairs
/// (webdataset's layout; `Tar` owns the bytes).

/// A shard sample's `KEY.json`: the manifest record at the shard's resolution,
/// with the key, the size of the original image and the image member's format
/// instead of a dataset root and image path.
public struct SampleRecord: Sendable, Equatable {
    public var id: String
    public var key: String
    public var source: String
    public var domain: Domain
    public var split: Split
    public var width: Int          // of the image member and the masks
    public var height: Int
    public var originalWidth: Int  // of the dataset image (predictions are written at this size)
    public var originalHeight: Int
    public var imageFormat: ImageFormat
    public var instances: [InstanceRecord]
    public var ignore: RLE?

    /// The encodings an image member can have; the raw value is its extension.
    public enum ImageFormat: String, Sendable, CaseIterable { case png, jpg }

    public init(id: String, key: String, source: String, domain: Domain, split: Split, width: Int, height: Int,
                originalWidth: Int, originalHeight: Int, imageFormat: ImageFormat, instances: [InstanceRecord], ignore: RLE?) {
        self.id = id
        self.key = key
        self.source = source
        self.domain = domain
        self.split = split
        self.width = width
        self.height = height
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
        self.imageFormat = imageFormat
        self.instances = instances
        self.ignore = ignore
    }

    /// Key order is part of the byte format (shards are byte-identical across runs).
    public var json: JSON {
        .object([
            ("id", .string(id)), ("key", .string(key)), ("source", .string(source)),
            ("domain", .string(domain.rawValue)), ("split", .string(split.rawValue)),
            ("width", .int(width)), ("height", .int(height)),
            ("original_size", .array([.int(originalWidth), .int(originalHeight)])),
            ("image_format", .string(imageFormat.rawValue)),
            ("instances", .array(instances.map(\.json))),
            ("ignore", ignore.map(\.json) ?? .null),
        ])
    }

    /// Parses `KEY.json`; errors name `file` and the field.
    public init(json value: JSON, file: String) throws {
        let fail = { ManifestError(file: file, line: 1, reason: $0) }
        guard case .object = value else { throw fail("a sample's json must be a JSON object") }
        let reader = FieldReader(value: value, fail: fail)
        id = try reader.string("id")
        key = try reader.string("key")
        source = try reader.string("source")
        domain = try reader.choice("domain")
        split = try reader.choice("split")
        width = try reader.int("width")
        height = try reader.int("height")
        guard let original = value["original_size"]?.arrayValue?.compactMap(\.intValue), original.count == 2,
              original[0] > 0, original[1] > 0 else {
            throw fail("field 'original_size' is not [width, height] of positive integers")
        }
        (originalWidth, originalHeight) = (original[0], original[1])
        let format = try reader.string("image_format")
        guard let imageFormat = ImageFormat(rawValue: format) else { throw fail("image_format '\(format)' is neither png nor jpg") }
        self.imageFormat = imageFormat
        (instances, ignore) = try reader.annotations(width: width, height: height)
    }

    public init(bytes: [UInt8], file: String) throws {
        let value: JSON
        do { value = try JSON.parse(bytes) } catch { throw ManifestError(file: file, line: 1, reason: "not valid JSON: \(error)") }
        try self.init(json: value, file: file)
    }
}

/// A shard folder's `index.json`: what pack-mix wrote (the plan that fixes the
/// bytes, per shard its size, hash, key range and counts).
public struct ShardIndex: Sendable {
    public static let format = "synmix-shards-1"
    public static let fileName = "index.json"

    public struct Entry: Sendable, Equatable {
        public var name: String
        public var samples = 0
        public var bytes = 0
        public var sha256 = ""
        public var firstKey = ""
        public var lastKey = ""
        public var domains: [String: Int] = [:]
        public var classes: [String: Int] = [:]   // non-crowd instances per class

        public init(name: String) { self.name = name }

        /// Key order fixed; the count tables sorted by name.
        public var json: JSON {
            .object([("name", .string(name)), ("samples", .int(samples)), ("bytes", .int(bytes)), ("sha256", .string(sha256)),
                     ("first_key", .string(firstKey)), ("last_key", .string(lastKey)),
                     ("domains", Self.counts(domains)), ("classes", Self.counts(classes))])
        }

        public init(json value: JSON, file: String) throws {
            let reader = FieldReader(value: value) { ManifestError(file: file, line: 1, reason: "shard entry: \($0)") }
            name = try reader.string("name")
            samples = try reader.int("samples")
            bytes = try reader.int("bytes")
            sha256 = try reader.string("sha256")
            firstKey = try reader.string("first_key")
            lastKey = try reader.string("last_key")
            domains = try reader.counts("domains")
            classes = try reader.counts("classes")
        }

        static func counts(_ table: [String: Int]) -> JSON { .object(table.keys.sorted().map { ($0, .int(table[$0]!)) }) }
    }

    /// The unified taxonomy the samples' class names come from, in id order (the trainer's
    /// semantic channels), so readers need not hard-code it; nil when pack-mix was not given one.
    public struct TaxonomyClasses: Sendable, Equatable {
        public struct Class: Sendable, Equatable {
            public var name: String
            public var instances: Bool
        }
        public var sha256: String
        public var classes: [Class]

        public init(_ taxonomy: Taxonomy) {
            sha256 = taxonomy.sha256
            classes = taxonomy.classes.map { Class(name: $0.name, instances: $0.hasInstances) }
        }

        public var instanceClasses: [String] { classes.filter(\.instances).map(\.name) }

        public var json: JSON {
            .object([("sha256", .string(sha256)),
                     ("classes", .array(classes.map { .object([("name", .string($0.name)), ("instances", .bool($0.instances))]) }))])
        }

        public init(json value: JSON, file: String) throws {
            let fields = FieldReader(value: value) { ManifestError(file: file, line: 1, reason: "taxonomy: \($0)") }
            sha256 = try fields.string("sha256")
            guard let rows = value["classes"]?.arrayValue else { throw fields.fail("missing or non-array field 'classes'") }
            classes = try rows.map { row in
                guard let name = row["name"]?.stringValue, let instances = row["instances"]?.boolValue else {
                    throw fields.fail("a class is not {name, instances}")
                }
                return Class(name: name, instances: instances)
            }
        }
    }

    public var synmixVersion: String
    public var taxonomy: TaxonomyClasses?
    /// Everything that fixes the shards' bytes (inputs by hash, seed, options); its hash names the plan.
    public var plan: JSON
    public var skipped: Int
    public var shards: [Entry]

    public init(synmixVersion: String, taxonomy: TaxonomyClasses?, plan: JSON, skipped: Int, shards: [Entry]) {
        self.synmixVersion = synmixVersion
        self.taxonomy = taxonomy
        self.plan = plan
        self.skipped = skipped
        self.shards = shards
    }

    public var samples: Int { shards.reduce(0) { $0 + $1.samples } }

    public var json: JSON {
        .object([
            ("format", .string(Self.format)),
            ("synmix_version", .string(synmixVersion)),
            ("taxonomy", taxonomy?.json ?? .null),
            ("plan", plan),
            ("samples", .int(samples)),
            ("skipped", .int(skipped)),
            ("shards", .array(shards.map(\.json))),
        ])
    }

    public init(json value: JSON, file: String) throws {
        let reader = FieldReader(value: value) { ManifestError(file: file, line: 1, reason: $0) }
        let format = try reader.string("format")
        guard format == Self.format else { throw reader.fail("format '\(format)' is not \(Self.format)") }
        synmixVersion = try reader.string("synmix_version")
        guard let taxonomy = value["taxonomy"] else { throw reader.fail("missing field 'taxonomy' (null when none)") }
        self.taxonomy = taxonomy.isNull ? nil : try TaxonomyClasses(json: taxonomy, file: file)
        guard let plan = value["plan"] else { throw reader.fail("missing field 'plan'") }
        self.plan = plan
        skipped = try reader.int("skipped")
        guard let entries = value["shards"]?.arrayValue else { throw reader.fail("missing or non-array field 'shards'") }
        shards = try entries.map { try Entry(json: $0, file: file) }
        let total = try reader.int("samples")
        guard total == samples else { throw reader.fail("'samples' is \(total), the shards hold \(samples)") }
    }

    /// The index of the shard folder `folder`.
    public static func read(folder: String) throws -> ShardIndex {
        let path = "\(folder.isEmpty ? "." : folder)/\(fileName)"
        let value: JSON
        do { value = try JSON.parse(try Files.read(path)) } catch {
            throw ManifestError(file: path, line: 1, reason: "cannot read a shard index: \(error)")
        }
        return try ShardIndex(json: value, file: path)
    }

    /// The taxonomy the index.json beside the shards names (every folder's the same one), so a stage that reads
    /// shards needs no mappings folder; nil when no folder has an index.json or none names a taxonomy.
    public static func commonTaxonomy(of shards: [String]) throws -> TaxonomyClasses? {
        var found: (taxonomy: TaxonomyClasses, file: String)?
        let folders = Set(shards.map { shard in
            shard.contains("/") ? String(shard[..<shard.lastIndex(of: "/")!]) : "."
        })
        for folder in folders.sorted()
        where Files.exists("\(folder)/\(fileName)") {
            guard let taxonomy = try read(folder: folder).taxonomy else { continue }
            let file = "\(folder)/\(fileName)"
            if let found, found.taxonomy != taxonomy {
                throw ManifestError(file: file, line: 1, reason: "taxonomy \(taxonomy.instanceClasses) (sha256 \(taxonomy.sha256.prefix(12))…) "
                                    + "differs from \(found.file)'s \(found.taxonomy.instanceClasses): the shards were packed with two taxonomies")
            }
            found = (taxonomy, file)
        }
        return found?.taxonomy
    }
}

extension FieldReader {
    /// An object of non-negative integer counts by name.
    func counts(_ key: String) throws -> [String: Int] {
        guard case .object(let pairs)? = value[key] else { throw fail("missing or non-object field '\(key)'") }
        var table: [String: Int] = [:]
        for (name, count) in pairs {
            guard let count = count.intValue, count >= 0 else { throw fail("'\(key).\(name)' is not a non-negative integer") }
            table[name] = count
        }
        return table
    }
}

extension SampleRecord.ImageFormat {
    /// The encoding a file name's extension names: .jpg or .jpeg, else PNG.
    public init(fileName: String) {
        let name = fileName.lowercased()
        self = name.hasSuffix(".jpg") || name.hasSuffix(".jpeg") ? .jpg : .png
    }

    /// 8-bit samples of an image in this encoding (a PNG's 16 bits reduced, its alpha dropped):
    /// what pack-mix resamples, the trainer and the pictures read.
    public func decode8Bit(_ bytes: [UInt8], path: String) throws -> Raster<UInt8> {
        switch self {
        case .jpg:
            return try JPEGCodec.decode(bytes, path: path)
        case .png:
            guard case .eightBit(let raster) = try PNGCodec.decode(bytes, path: path, options: PNGDecodeOptions(to8Bit: true, stripAlpha: true)) else {
                throw ImageError.unexpectedLayout(path: path, reason: "not an 8-bit image")
            }
            return raster
        }
    }
}
