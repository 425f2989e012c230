import Foundation
import SynmixCore

/// harmonize's `summary.json`: what one run read and wrote — images, instances per split and class, the
/// Synscapes rider splits, the mapping files by hash. Written and read only here.
public struct DatasetSummary: Sendable, Equatable {
    public static let fileName = "summary.json"

    public struct ClassCounts: Sendable, Equatable {
        public var name: String
        public var instances = 0, crowd = 0, pixels = 0

        public init(name: String, instances: Int = 0, crowd: Int = 0, pixels: Int = 0) {
            (self.name, self.instances, self.crowd, self.pixels) = (name, instances, crowd, pixels)
        }

        /// Counts one instance: a crowd region or an instance, and its pixels.
        public mutating func add(_ instance: InstanceRecord) {
            if instance.isCrowd { crowd += 1 } else { instances += 1 }
            pixels += instance.area
        }

        /// Adds another split's counts of the class.
        public mutating func add(_ other: ClassCounts) {
            (instances, crowd, pixels) = (instances + other.instances, crowd + other.crowd, pixels + other.pixels)
        }
    }

    public struct SplitCounts: Sendable, Equatable {
        public var name: String
        public var images: Int
        public var classes: [ClassCounts]

        public init(name: String, images: Int, classes: [ClassCounts]) { (self.name, self.images, self.classes) = (name, images, classes) }
    }

    /// A file the run read, by path and content hash.
    public struct HashedFile: Sendable, Equatable {
        public var path: String, sha256: String
        public init(path: String, sha256: String) { (self.path, self.sha256) = (path, sha256) }
    }

    public var dataset: String, root: String, split: SplitSelection
    public var limit: Int?
    /// `"I/N"` for a part of an array job.
    public var partition: String?
    /// Synscapes only.
    public var valFraction: Double?
    public var discovered = 0, selected = 0, written = 0, failed = 0
    public var splits: [SplitCounts] = []
    public var classes: [ClassCounts] = []
    public var ignorePixelFraction = 0.0
    public var instancesSplit = 0, metaEntriesWithoutPixels = 0
    public var taxonomy: HashedFile, mapping: HashedFile

    public init(dataset: String, root: String, split: SplitSelection, taxonomy: HashedFile, mapping: HashedFile) {
        (self.dataset, self.root, self.split, self.taxonomy, self.mapping) = (dataset, root, split, taxonomy, mapping)
    }

    /// Images of the split called `name` (0 when the run wrote none).
    public func images(inSplit split: Split) -> Int { splits.first { $0.name == split.rawValue }?.images ?? 0 }

    public var json: JSON {
        func table(_ classes: [ClassCounts]) -> JSON {
            .object(classes.map { ($0.name, .object([("instances", .int($0.instances)), ("crowd", .int($0.crowd)), ("pixels", .int($0.pixels))])) })
        }
        func hashed(_ file: HashedFile) -> JSON { .object([("path", .string(file.path)), ("sha256", .string(file.sha256))]) }
        return .object([
            ("synmix_version", .string(synmixVersion)),
            ("dataset", .string(dataset)),
            ("root", .string(root)),
            ("split", .string(split.rawValue)),
            ("limit", limit.map { .int($0) } ?? .null),
            ("partition", partition.map { .string($0) } ?? .null),
            ("val_fraction", valFraction.map { .double($0) } ?? .null),
            ("images", .object([("discovered", .int(discovered)), ("selected", .int(selected)), ("written", .int(written)), ("failed", .int(failed))])),
            ("errors", .int(failed)),
            ("splits", .object(splits.map { ($0.name, .object([("images", .int($0.images)), ("classes", table($0.classes))])) })),
            ("classes", table(classes)),
            ("ignore_pixel_fraction", .double(ignorePixelFraction)),
            ("instances_split", .int(instancesSplit)),
            ("meta_entries_without_pixels", .int(metaEntriesWithoutPixels)),
            ("mappings", .object([("taxonomy", hashed(taxonomy)), ("mapping", hashed(mapping))])),
        ])
    }

    public init(json value: JSON, file: String) throws {
        let fields = FieldReader(value: value) { ManifestError(file: file, line: 1, reason: "summary: \($0)") }
        func classTable(_ raw: JSON?, _ what: String) throws -> [ClassCounts] {
            guard case .object(let pairs)? = raw else { throw fields.fail("missing or non-object field '\(what)'") }
            return try pairs.map { name, counts in
                let row = FieldReader(value: counts, fail: fields.fail)
                return ClassCounts(name: name, instances: try row.int("instances"), crowd: try row.int("crowd"), pixels: try row.int("pixels"))
            }
        }
        func hashed(_ raw: JSON?, _ what: String) throws -> HashedFile {
            guard let raw else { throw fields.fail("missing field 'mappings.\(what)'") }
            let row = FieldReader(value: raw, fail: fields.fail)
            return HashedFile(path: try row.string("path"), sha256: try row.string("sha256"))
        }
        dataset = try fields.string("dataset")
        root = try fields.string("root")
        split = try fields.choice("split")
        limit = value["limit"]?.intValue
        partition = value["partition"]?.stringValue
        valFraction = value["val_fraction"]?.doubleValue
        guard let images = value["images"] else { throw fields.fail("missing field 'images'") }
        let counts = FieldReader(value: images, fail: fields.fail)
        (discovered, selected, written, failed) = (try counts.int("discovered"), try counts.int("selected"), try counts.int("written"),
                                                   try counts.int("failed"))
        guard case .object(let rawSplits)? = value["splits"] else { throw fields.fail("missing or non-object field 'splits'") }
        splits = try rawSplits.map { name, raw in
            SplitCounts(name: name, images: try FieldReader(value: raw, fail: fields.fail).int("images"), classes: try classTable(raw["classes"], "splits.\(name).classes"))
        }
        classes = try classTable(value["classes"], "classes")
        ignorePixelFraction = try fields.optionalDouble("ignore_pixel_fraction") ?? 0
        instancesSplit = try fields.int("instances_split")
        metaEntriesWithoutPixels = try fields.int("meta_entries_without_pixels")
        taxonomy = try hashed(value["mappings"]?["taxonomy"], "taxonomy")
        mapping = try hashed(value["mappings"]?["mapping"], "mapping")
    }

    public static func read(folder: String) throws -> DatasetSummary {
        let path = "\(folder)/\(fileName)"
        let value: JSON
        do { value = try JSON.parse(try Files.read(path)) } catch let error as FileError { throw error } catch {
            throw FileError(path: path, reason: "not valid JSON: \(error)")
        }
        return try DatasetSummary(json: value, file: path)
    }

    public func write(folder: String) throws {
        try Files.writeAtomically(json.pretty, to: "\(folder)/\(Self.fileName)")
    }
}
