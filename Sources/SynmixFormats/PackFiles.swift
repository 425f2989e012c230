import Foundation
import SynmixCore

/// index.json's `plan`: everything that fixes a shard set's bytes — the inputs by content hash, the seed, the
/// split, the counts and the options. pack-mix writes it; its SHA-256 (of the compact JSON) names the plan in
/// the resume journal and the part indexes.
public struct PackPlan: Sendable, Equatable {
    public struct Input: Sendable, Equatable {
        public var name: String
        /// The manifest file (absolute path) and its SHA-256.
        public var manifest: String, sha256: String
        /// Lines of the manifest, records of the split, the count asked for (`SampleCount`'s text) and taken.
        public var records: Int, eligible: Int, requested: String, chosen: Int

        public init(name: String, manifest: String, sha256: String, records: Int, eligible: Int, requested: String, chosen: Int) {
            (self.name, self.manifest, self.sha256) = (name, manifest, sha256)
            (self.records, self.eligible, self.requested, self.chosen) = (records, eligible, requested, chosen)
        }
    }

    public struct Options: Sendable, Equatable {
        public var prefix: String
        public var shardBytes: Int, shardSamples: Int
        public var imageFormat: String, jpegQuality: Int, pngLevel: Int
        public var scale: Double?
        /// `[width, height]`.
        public var maxSize: [Int]?
        /// `OLD=NEW` root rewrites.
        public var rootMap: [String]

        public init(prefix: String, shardBytes: Int, shardSamples: Int, imageFormat: String, jpegQuality: Int, pngLevel: Int,
                    scale: Double?, maxSize: [Int]?, rootMap: [String]) {
            (self.prefix, self.shardBytes, self.shardSamples) = (prefix, shardBytes, shardSamples)
            (self.imageFormat, self.jpegQuality, self.pngLevel) = (imageFormat, jpegQuality, pngLevel)
            (self.scale, self.maxSize, self.rootMap) = (scale, maxSize, rootMap)
        }
    }

    /// A count by name (an input's or a domain's), in the order the plan lists them.
    public struct Count: Sendable, Equatable {
        public var name: String
        public var count: Int
        public init(_ name: String, _ count: Int) { (self.name, self.count) = (name, count) }
    }

    public var inputs: [Input]
    public var seed: UInt64
    public var split: SplitSelection
    /// Samples taken from each input, in input order; samples per domain, by name.
    public var countsPerInput: [Count], countsPerDomain: [Count]
    public var options: Options

    public init(inputs: [Input], seed: UInt64, split: SplitSelection, countsPerInput: [Count], countsPerDomain: [Count], options: Options) {
        (self.inputs, self.seed, self.split) = (inputs, seed, split)
        (self.countsPerInput, self.countsPerDomain, self.options) = (countsPerInput, countsPerDomain.sorted { $0.name < $1.name }, options)
    }

    /// The plan's samples: the domains' counts added up.
    public var samples: Int { countsPerDomain.reduce(0) { $0 + $1.count } }

    public var json: JSON {
        .object([
            ("inputs", .array(inputs.map { input in
                .object([("name", .string(input.name)), ("manifest", .string(input.manifest)), ("sha256", .string(input.sha256)),
                         ("records", .int(input.records)), ("eligible", .int(input.eligible)),
                         ("requested", .string(input.requested)), ("chosen", .int(input.chosen))])
            })),
            ("seed", .int(Int(bitPattern: UInt(seed)))),
            ("split", .string(split.rawValue)),
            ("counts_per_input", .object(countsPerInput.map { ($0.name, .int($0.count)) })),
            ("counts_per_domain", .object(countsPerDomain.map { ($0.name, .int($0.count)) })),
            ("options", .object([
                ("prefix", .string(options.prefix)), ("shard_bytes", .int(options.shardBytes)),
                ("shard_samples", .int(options.shardSamples)), ("image_format", .string(options.imageFormat)),
                ("jpeg_quality", .int(options.jpegQuality)), ("png_level", .int(options.pngLevel)),
                ("scale", options.scale.map { .double($0) } ?? .null),
                ("max_size", options.maxSize.map { .array($0.map { .int($0) }) } ?? .null),
                ("root_map", .array(options.rootMap.map { .string($0) })),
            ])),
        ])
    }

    /// A plan as a file holds it (a part index is a file anyone can edit): every count is checked to be a count
    /// and the domains' total to fit an integer; errors name `file`.
    public init(json value: JSON, file: String) throws {
        let fields = FieldReader(value: value) { ManifestError(file: file, line: 1, reason: "plan: \($0)") }
        func counts(_ key: String) throws -> [Count] {
            guard case .object(let pairs)? = value[key] else { throw fields.fail("the plan lacks its options or counts") }
            return try pairs.map { name, raw in
                guard let n = raw.intValue, n >= 0 else { throw fields.fail("\(key).\(name) is not a count") }
                return Count(name, n)
            }
        }
        guard let rawInputs = value["inputs"]?.arrayValue, let rawOptions = value["options"] else {
            throw fields.fail("the plan lacks its options or counts")
        }
        inputs = try rawInputs.map { raw in
            let input = FieldReader(value: raw, fail: fields.fail)
            return Input(name: try input.string("name"), manifest: try input.string("manifest"), sha256: try input.string("sha256"),
                         records: try input.int("records"), eligible: try input.int("eligible"), requested: try input.string("requested"),
                         chosen: try input.int("chosen"))
        }
        seed = UInt64(bitPattern: Int64(try fields.int("seed")))
        split = try fields.choice("split")
        countsPerInput = try counts("counts_per_input")
        countsPerDomain = try counts("counts_per_domain")
        var total = 0
        for count in countsPerDomain {
            let (sum, overflow) = total.addingReportingOverflow(count.count)
            guard !overflow else { throw fields.fail("counts_per_domain add up to more than an integer holds") }
            total = sum
        }
        let option = FieldReader(value: rawOptions, fail: fields.fail)
        let scale = rawOptions["scale"]?.isNull == false ? try option.optionalDouble("scale") : nil
        let maxSize = rawOptions["max_size"].flatMap { $0.isNull ? nil : $0.arrayValue?.compactMap(\.intValue) }
        options = Options(prefix: try option.string("prefix"), shardBytes: try option.int("shard_bytes"),
                          shardSamples: try option.int("shard_samples"), imageFormat: try option.string("image_format"),
                          jpegQuality: try option.int("jpeg_quality"), pngLevel: try option.int("png_level"), scale: scale,
                          maxSize: maxSize, rootMap: (rawOptions["root_map"]?.arrayValue ?? []).compactMap(\.stringValue))
    }
}

/// A written shard as pack-mix's resume journal and a part index keep it: its index entry, where the plan
/// continues after it, and the samples skipped while writing it.
public struct WrittenShard: Sendable {
    public var entry: ShardIndex.Entry
    public var nextSample = 0
    public var errors: [FileError] = []

    public init(name: String) { entry = ShardIndex.Entry(name: name) }

    public var json: JSON {
        guard case .object(var fields) = entry.json else { return entry.json }
        fields.append(("next_sample", .int(nextSample)))
        fields.append(("errors", .array(errors.map(\.json))))
        return .object(fields)
    }

    public init(json value: JSON, file: String) throws {
        entry = try ShardIndex.Entry(json: value, file: file)
        guard let next = value["next_sample"]?.intValue, let errors = value["errors"]?.arrayValue else {
            throw ManifestError(file: file, line: 1, reason: "journal entry lacks next_sample or errors")
        }
        nextSample = next
        self.errors = try errors.map { try FileError(json: $0, file: file) }
    }
}

/// `.pack-mix-journal[.part-I-of-N].json`: the shards a run has completed, for the plan its hash names, so a
/// rerun keeps them.
public struct PackJournal: Sendable {
    public static func fileName(_ partition: Partition?) -> String {
        partition.map { ".pack-mix-journal.part-\($0.index)-of-\($0.count).json" } ?? ".pack-mix-journal.json"
    }

    public var planHash: String
    public var shards: [WrittenShard]

    public init(planHash: String, shards: [WrittenShard]) { (self.planHash, self.shards) = (planHash, shards) }

    public var json: JSON { .object([("plan_sha256", .string(planHash)), ("shards", .array(shards.map(\.json)))]) }

    /// Rewritten after every completed shard, under a temporary name: an interruption leaves the last journal whole.
    public func write(to path: String) throws { try Files.writeAtomically(json.compact + "\n", to: path) }

    /// The journal at `path` if it is one for the plan `planHash`: its shards as far as they read.
    public static func shards(at path: String, planHash: String) -> [WrittenShard] {
        guard let journal = try? JSON.parse(try Files.read(path)), journal["plan_sha256"]?.stringValue == planHash else { return [] }
        var shards: [WrittenShard] = []
        for entry in journal["shards"]?.arrayValue ?? [] {
            guard let shard = try? WrittenShard(json: entry, file: path) else { break }
            shards.append(shard)
        }
        return shards
    }
}

/// `index.part-I-of-N.json`: what part I of an array job wrote (its shards' index entries and skipped samples)
/// and the plan it wrote them for. `pack-mix merge` turns the N parts into the folder's index.json.
public struct PartIndex: Sendable {
    public static let format = "synmix-shards-1-part"

    public static func fileName(_ partition: Partition) -> String { "index.part-\(partition.index)-of-\(partition.count).json" }

    public var partition: Partition
    public var planHash: String
    public var taxonomy: ShardIndex.TaxonomyClasses?
    /// The plan as written (its compact bytes hash to `planHash`); `PackPlan(json:file:)` reads it.
    public var plan: JSON
    /// Manifest lines that are not records (part 1 reports them).
    public var rejected: [FileError]
    public var shards: [WrittenShard]

    public init(partition: Partition, planHash: String, taxonomy: ShardIndex.TaxonomyClasses?, plan: JSON, rejected: [FileError],
                shards: [WrittenShard]) {
        (self.partition, self.planHash, self.taxonomy, self.plan, self.rejected, self.shards) = (partition, planHash, taxonomy, plan, rejected, shards)
    }

    public var json: JSON {
        .object([
            ("format", .string(Self.format)), ("part", .array([.int(partition.index), .int(partition.count)])),
            ("synmix_version", .string(synmixVersion)), ("plan_sha256", .string(planHash)),
            ("taxonomy", taxonomy?.json ?? .null),
            ("plan", plan), ("rejected", .array(rejected.map(\.json))), ("shards", .array(shards.map(\.json))),
        ])
    }

    public init(json value: JSON, file: String) throws {
        guard value["format"]?.stringValue == Self.format, let part = value["part"]?.arrayValue?.compactMap(\.intValue), part.count == 2,
              let partition = Partition("\(part[0])/\(part[1])"), let planHash = value["plan_sha256"]?.stringValue,
              let plan = value["plan"], let rejected = value["rejected"]?.arrayValue, let shards = value["shards"]?.arrayValue else {
            throw ManifestError(file: file, line: 1, reason: "not a pack-mix part index (\(Self.format))")
        }
        self.partition = partition
        self.planHash = planHash
        self.plan = plan
        taxonomy = try value["taxonomy"].flatMap { $0.isNull ? nil : try ShardIndex.TaxonomyClasses(json: $0, file: file) }
        self.rejected = try rejected.map { try FileError(json: $0, file: file) }
        self.shards = try shards.map { try WrittenShard(json: $0, file: file) }
    }
}
