import Foundation
import SynmixCore
import SynmixFormats

extension Packer {
    /// `pack-mix merge`: checks the N parts of an array job in `out` (one plan, every part once,
    /// every shard of the plan present once, each as its part recorded it — size and SHA-256 —, no
    /// key twice) and writes index.json and errors.jsonl, the same bytes for any N; the part files
    /// are removed. A part index is a file anyone can edit: every count, name and hash in it is
    /// checked before it is used, and every error names the file.
    public static func merge(out: String) throws -> ShardIndex {
        let pattern = /index\.part-(\d+)-of-(\d+)\.json/
        let names = Files.list(out).filter { $0.wholeMatch(of: pattern) != nil }.sorted()
        guard !names.isEmpty else { throw PackError("\(out): no index.part-I-of-N.json: nothing to merge (run pack-mix --partition I/N first)") }
        let parts = try names.map { name in try readPart("\(out)/\(name)", named: name) }
        let count = parts[0].partition.count
        for (name, part) in zip(names, parts) where part.partition.count != count {
            throw PackError("\(out)/\(name) is part \(part.partition) but \(names[0]) is of \(count): parts of different runs")
        }
        for (name, part) in zip(names, parts) where part.planHash != parts[0].planHash || part.taxonomy != parts[0].taxonomy {
            throw PackError("\(out)/\(name): another plan than \(names[0]) (inputs, seed or options differ)")
        }
        for index in 1...count where !parts.contains(where: { $0.partition.index == index }) {
            throw PackError("partition \(index)/\(count) is missing: no \(out)/\(PartIndex.fileName(Partition("\(index)/\(count)")!))")
        }
        let first = "\(out)/\(names[0])"
        let plan: PackPlan
        do { plan = try PackPlan(json: parts[0].plan, file: first) } catch let error as ManifestError { throw PackError("\(first): \(error.reason)") }
        // The merged index and errors.jsonl go beside the shards; never into an input's folder.
        for input in plan.inputs { try Files.checkOutput(out, isNotInput: input.manifest) }
        // Every shard of the plan, once, from the part it belongs to.
        let (prefix, perShard, total) = (plan.options.prefix, plan.options.shardSamples, plan.samples)
        guard !prefix.isEmpty, !prefix.contains("/"), !prefix.contains("\0"), prefix != "..", perShard > 0 else {
            throw PackError("\(first): the plan's prefix '\(prefix)' or shard_samples \(perShard) cannot name shards")
        }
        let shardCount = total / perShard + (total % perShard == 0 ? 0 : 1)
        var byName: [String: (record: WrittenShard, part: Partition, file: String)] = [:]
        for (name, part) in zip(names, parts) {
            for shard in part.shards {
                let file = "\(out)/\(name)"
                if let other = byName[shard.entry.name] {
                    throw PackError("\(file): shard \(shard.entry.name) is also in \(other.file) (partition \(other.part))")
                }
                // A part lists only its own shards (k mod N = I - 1): anything else is foreign or forged.
                guard let k = shardNumber(shard.entry.name, prefix: prefix), k < shardCount, k % count == part.partition.index - 1 else {
                    throw PackError("\(file): shard '\(shard.entry.name)' is not one of partition \(part.partition)'s shards of this plan")
                }
                byName[shard.entry.name] = (shard, part.partition, file)
            }
        }
        var shards: [WrittenShard] = []
        for k in 0..<shardCount {
            let name = shardName(prefix, k)
            guard let found = byName[name], Files.exists("\(out)/\(name)") else {
                throw PackError("shard \(out)/\(name) of partition \(k % count + 1)/\(count) is missing: rerun that part")
            }
            try checkShard("\(out)/\(name)", as: found.record.entry, recordedIn: found.file)
            shards.append(found.record)
        }
        // No key twice: a sample's key is its record id made safe, so two inputs could share one.
        var seen: [String: String] = [:]
        for shard in shards {
            let reader = try Tar.Reader(path: "\(out)/\(shard.entry.name)")
            while let member = try reader.next() {
                guard member.sampleExtension == "json" else { continue }
                if let first = seen.updateValue(shard.entry.name, forKey: String(member.sampleKey)) {
                    throw PackError("key \(member.sampleKey) is in \(out)/\(first) and in \(out)/\(shard.entry.name)")
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

    /// One part index, checked: valid JSON, its file name its own partition's, its plan the one its
    /// hash names, and counts that are counts.
    static func readPart(_ path: String, named name: String) throws -> PartIndex {
        let value: JSON
        do { value = try JSON.parse(try Files.read(path)) } catch let error as FileError { throw PackError("\(error)") } catch {
            throw PackError("\(path): not valid JSON (damaged or truncated?): \(error)")
        }
        let part: PartIndex
        do { part = try PartIndex(json: value, file: path) } catch let error as ManifestError { throw PackError("\(path): \(error.reason)") }
        guard name == PartIndex.fileName(part.partition) else {
            throw PackError("\(path): it says it is part \(part.partition) (a copy or a renamed part?)")
        }
        guard SHA256Hasher.hex(Array(part.plan.compact.utf8)) == part.planHash else {
            throw PackError("\(path): its plan does not hash to its plan_sha256 (edited?)")
        }
        for shard in part.shards {
            let entry = shard.entry
            guard entry.samples >= 0, entry.bytes >= 0, shard.nextSample >= 0, entry.sha256.count == 64 else {
                throw PackError("\(path): shard \(entry.name) has a negative count or no SHA-256")
            }
        }
        return part
    }

    /// The k of `PREFIX-NNNNNN.tar` (six or more digits, as shardName writes it), or nil for any other name.
    static func shardNumber(_ name: String, prefix: String) -> Int? {
        guard name.hasPrefix(prefix + "-"), name.hasSuffix(".tar") else { return nil }
        let digits = name.dropFirst(prefix.count + 1).dropLast(4)
        guard let k = Int(digits), k >= 0, shardName(prefix, k) == name else { return nil }
        return k
    }

    /// A shard as its part recorded it: the same size, SHA-256 and sample count (truncated or replaced
    /// since, it is not the shard the part index describes).
    static func checkShard(_ path: String, as entry: ShardIndex.Entry, recordedIn part: String) throws {
        let stream = try Files.openRegularStream(path)
        defer { fclose(stream) }
        let hasher = SHA256Hasher()
        var size = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, stream) }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            size += n
            if n < chunk.count { break }
        }
        guard ferror(stream) == 0 else { throw PackError("\(path): read failed") }
        guard size == entry.bytes else { throw PackError("\(path): \(size) bytes, \(part) recorded \(entry.bytes) (truncated or replaced?)") }
        guard hasher.finalize() == entry.sha256 else { throw PackError("\(path): its SHA-256 differs from the one \(part) recorded (replaced?)") }
        var samples = 0
        let reader = try Tar.Reader(path: path)
        do {
            while let member = try reader.next() { if member.sampleExtension == "json" { samples += 1 } }
        } catch { throw PackError("\(path): \(error)") }
        guard samples == entry.samples else { throw PackError("\(path): \(samples) samples, \(part) recorded \(entry.samples)") }
    }
}
