import Foundation
import SynmixCore

/// `index.part-I-of-N.json`: what part I of an array job wrote (its shards' index entries and
/// skipped samples) and the plan it wrote them for. `merge` turns the N
/// parts into the folder's index.json.
struct PartIndex {
    static let format = "synmix-shards-1-part"

    var partition: Partition
    var planHash: String
    var taxonomy: ShardIndex.TaxonomyClasses?
    var plan: JSON
    var rejected: [FileError]   // manifest lines that are not records (part 1 reports them)
    var shards: [Packer.ShardRecord]

    var json: JSON {
        .object([
            ("format", .string(Self.format)), ("part", .array([.int(partition.index), .int(partition.count)])),
            ("synmix_version", .string(synmixVersion)), ("plan_sha256", .string(planHash)),
            ("taxonomy", taxonomy?.json ?? .null),
            ("plan", plan), ("rejected", .array(rejected.map(\.json))), ("shards", .array(shards.map(\.journalJSON))),
        ])
    }
}

extension PartIndex {
    /// (An extension, so the memberwise initialiser stays.)
    init(json value: JSON, file: String) throws {
        func fail(_ reason: String) -> PackError { PackError("\(file): \(reason)") }
        guard value["format"]?.stringValue == Self.format, let part = value["part"]?.arrayValue?.compactMap(\.intValue), part.count == 2,
              let partition = Partition("\(part[0])/\(part[1])"), let planHash = value["plan_sha256"]?.stringValue,
              let plan = value["plan"], let rejected = value["rejected"]?.arrayValue, let shards = value["shards"]?.arrayValue else {
            throw fail("not a pack-mix part index (\(Self.format))")
        }
        self.partition = partition
        self.planHash = planHash
        self.plan = plan
        taxonomy = try value["taxonomy"].flatMap { $0.isNull ? nil : try ShardIndex.TaxonomyClasses(json: $0, file: file) }
        self.rejected = try rejected.map { try FileError(json: $0, file: file) }
        self.shards = try shards.map { try Packer.ShardRecord(journal: $0, file: file) }
    }
}

extension Packer {
    /// `pack-mix merge`: checks the N parts of an array job in `out` (one plan, every part once,
    /// every shard of the plan present once, no key twice) and writes index.json and errors.jsonl,
    /// the same bytes for any N; the part files are removed.
    public static func merge(out: String) throws -> ShardIndex {
        let pattern = /index\.part-(\d+)-of-(\d+)\.json/
        let names = Files.list(out).filter { $0.wholeMatch(of: pattern) != nil }.sorted()
        guard !names.isEmpty else { throw PackError("\(out): no index.part-I-of-N.json: nothing to merge (run pack-mix --partition I/N first)") }
        let parts = try names.map { name in try PartIndex(json: try JSON.parse(try Files.read("\(out)/\(name)")), file: "\(out)/\(name)") }
        let count = parts[0].partition.count
        for (name, part) in zip(names, parts) where part.partition.count != count {
            throw PackError("\(out)/\(name) is part \(part.partition) but \(names[0]) is of \(count): parts of different runs")
        }
        for (name, part) in zip(names, parts) where part.planHash != parts[0].planHash || part.taxonomy != parts[0].taxonomy {
            throw PackError("\(out)/\(name): another plan than \(names[0]) (inputs, seed or options differ)")
        }
        for index in 1...count where !parts.contains(where: { $0.partition.index == index }) {
            throw PackError("partition \(index)/\(count) is missing: no \(out)/\(partIndexName(Partition("\(index)/\(count)")!))")
        }
        // Every shard of the plan, once, from the part it belongs to.
        guard let options = parts[0].plan["options"], let prefix = options["prefix"]?.stringValue,
              let perShard = options["shard_samples"]?.intValue, perShard > 0,
              let total = parts[0].plan["counts_per_domain"].flatMap({ value -> Int? in
                  guard case .object(let pairs) = value else { return nil }
                  return pairs.reduce(0) { $0 + ($1.1.intValue ?? 0) }
              }) else {
            throw PackError("\(out)/\(names[0]): the plan lacks its options or counts")
        }
        var byName: [String: (record: ShardRecord, part: Partition)] = [:]
        for part in parts {
            for shard in part.shards {
                if let other = byName[shard.entry.name] {
                    throw PackError("shard \(shard.entry.name) is in partition \(other.part) and in partition \(part.partition)")
                }
                byName[shard.entry.name] = (shard, part.partition)
            }
        }
        var shards: [ShardRecord] = []
        for k in 0..<(total + perShard - 1) / perShard {
            let name = shardName(prefix, k)
            guard let found = byName[name], Files.exists("\(out)/\(name)") else {
                throw PackError("shard \(name) of partition \(k % count + 1)/\(count) is missing: rerun that part")
            }
            shards.append(found.record)
        }
        // No key twice: a sample's key is its record id made safe, so two inputs could share one.
        var seen: [String: String] = [:]
        for shard in shards {
            let reader = try Tar.Reader(path: "\(out)/\(shard.entry.name)")
            while let member = try reader.next() {
                guard member.sampleExtension == "json" else { continue }
                if let first = seen.updateValue(shard.entry.name, forKey: String(member.sampleKey)) {
                    throw PackError("key \(member.sampleKey) is in \(first) and in \(shard.entry.name)")
                }
            }
        }
        let errors = parts.flatMap(\.rejected) + shards.flatMap(\.errors)
        let index = ShardIndex(synmixVersion: synmixVersion, taxonomy: parts[0].taxonomy, plan: parts[0].plan, skipped: errors.count,
                               shards: shards.map(\.entry))
        try writeIndex(index, errors: errors, to: out)
        for name in names { unlink("\(out)/\(name)") }
        return index
    }
}
