import Foundation
import SynmixCore
import SynmixFormats

public struct PackOptions: Sendable {
    public var inputs: [PackInput]
    public var out: String
    public var seed: UInt64 = 1
    public var prefix = "mix"
    public var split = SplitSelection.train
    public var shardBytes = 1_000_000_000
    public var shardSamples = 100_000
    public var sample = SampleOptions()
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    /// When given, every instance class must be one of its instance classes (others are skipped
    /// as bad records), and index.json names it.
    public var taxonomy: Taxonomy?
    /// Part I of N of an array job: shard k (plan positions k·shardSamples ..< (k+1)·shardSamples, whatever
    /// the bytes) belongs to part k mod N + 1, so the shards are the same files for any N; the part's
    /// index goes to `index.part-I-of-N.json`, and `merge` writes index.json once every part is done.
    public var partition: Partition?

    /// Every optional setting at its default (no inputs, no output): what `pack-mix --help` shows.
    public static var defaults: PackOptions { PackOptions(inputs: [], out: "") }

    public init(inputs: [PackInput], out: String) {
        self.inputs = inputs
        self.out = out
    }
}

public struct PackResult: Sendable {
    public var samples: Int
    public var shards: [String]
    public var bytes: Int
    public var errors: [FileError]
    public var resumedShards: Int
}

/// `pack-mix`: the mix plan, then shards written one after another under a
/// temporary name and renamed when complete. A journal of completed shards
/// lets a rerun keep them (when their hashes match the plan) and continue;
/// the result is byte-identical to an uninterrupted run.
public enum Packer {
    /// Samples built at once per job: a sample can hold a photo-sized image several MB
    /// large, so fewer are in flight than records in the other stages.
    static let samplesInFlightPerJob = 8

    static func shardName(_ prefix: String, _ index: Int) -> String {
        let digits = String(index)
        return "\(prefix)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits).tar"
    }

    /// The shards a run writes, in order: all of them, rotated by samples or bytes; or, for part I of N,
    /// shard k for every k with k mod N = I − 1, each the plan positions k·S ..< (k+1)·S.
    struct ShardPlan {
        let total: Int, perShard: Int
        let partition: Partition?

        var partShards: [Int] {
            guard let partition else { return [] }
            let count = (total + perShard - 1) / perShard
            return Array(stride(from: partition.index - 1, to: count, by: partition.count))
        }

        /// The plan positions to visit after `kept` of this run's shards are done (resumed).
        func positions(keptShards kept: Int, resumeAt: Int) -> [Range<Int>] {
            guard partition != nil else { return [resumeAt..<total] }
            return partShards.dropFirst(kept).map { $0 * perShard..<min(total, ($0 + 1) * perShard) }
        }
    }



    /// `progress` gets the samples done in this run so far and the number this run has to do.
    public static func run(_ options: PackOptions, progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> PackResult {
        guard options.shardBytes > 0, options.shardSamples > 0 else { throw PackError("shard limits must be positive") }
        guard !options.prefix.contains("/"), !options.prefix.isEmpty else { throw PackError("--name must be a plain file-name prefix") }
        for input in options.inputs { try Files.checkOutput(options.out, isNotInput: input.manifest) }
        let plan = try MixPlan.build(options.inputs, split: options.split, seed: options.seed)
        let planJSON = packPlan(plan, options).json
        let planHash = SHA256Hasher.hex(Array(planJSON.compact.utf8))
        try Files.createDirectory(options.out)

        let shardPlan = ShardPlan(total: plan.order.count, perShard: options.shardSamples, partition: options.partition)
        let journalPath = "\(options.out)/\(PackJournal.fileName(options.partition))"
        var shards = try keepCompleteShards(options, shardPlan, planHash: planHash, journalPath: journalPath)
        let resumed = shards.count

        let readers = try options.inputs.map { input in
            try ManifestReader(ManifestReader.file(input.manifest))
        }
        let resumeAt = shards.last?.nextSample ?? 0
        var current: (file: AtomicFile, hasher: BackgroundSHA256, shard: WrittenShard)?
        var pendingErrors: [FileError] = []

        func closeShard(nextSample: Int) throws {
            guard var open = current else { return }
            let trailer = Tar.trailer(after: open.shard.entry.bytes)
            try open.file.write(trailer)
            open.hasher.update(trailer)
            open.shard.entry.bytes += trailer.count
            open.shard.entry.sha256 = open.hasher.finalize()
            open.shard.nextSample = nextSample
            open.shard.errors = pendingErrors
            pendingErrors = []
            try open.file.commit()
            shards.append(open.shard)
            current = nil
            try PackJournal(planHash: planHash, shards: shards).write(to: journalPath)
        }

        func openShard(_ name: String) throws {
            current = (try AtomicFile("\(options.out)/\(name)"), BackgroundSHA256(), WrittenShard(name: name))
        }

        // Manifest lines are read in plan order here; samples are built in parallel and written in plan order.
        let ranges = shardPlan.positions(keptShards: resumed, resumeAt: resumeAt)
        var positions = ranges.joined().makeIterator()
        let toDo = ranges.reduce(0) { $0 + $1.count }
        try orderedParallelMap(jobs: options.jobs, perJob: Self.samplesInFlightPerJob, next: {
            () -> (position: Int, id: String, line: Substring, path: String)? in
            guard let position = positions.next() else { return nil }
            let planned = plan.order[position], reader = readers[planned.input]
            return (position, planned.id, try reader.line(at: planned.offset, length: planned.length), reader.path)
        }, { item -> (position: Int, sample: Result<BuiltSample, FileError>) in
            (item.position, buildSample(line: item.line, id: item.id, path: item.path, options: options))
        }, consume: { built in
            // A part's shard is fixed by position: opened at its first position, even if every sample in it fails.
            if options.partition != nil {
                let name = shardName(options.prefix, built.position / options.shardSamples)
                if current?.shard.entry.name != name {
                    try closeShard(nextSample: built.position)
                    try openShard(name)
                }
            }
            switch built.sample {
            case .failure(let failure):
                pendingErrors.append(failure)
            case .success(let sample):
                if options.partition == nil, let open = current,
                   open.shard.entry.samples >= options.shardSamples || open.shard.entry.bytes >= options.shardBytes {
                    try closeShard(nextSample: built.position)
                }
                if current == nil { try openShard(shardName(options.prefix, shards.count)) }
                if current!.shard.entry.samples == 0 { current!.shard.entry.firstKey = sample.key }
                for piece in sample.pieces where piece.count > 0 {
                    try current!.file.write(piece)
                    current!.hasher.update(piece)
                }
                current!.shard.entry.bytes += sample.byteCount
                current!.shard.entry.samples += 1
                current!.shard.entry.lastKey = sample.key
                current!.shard.entry.domains[sample.domain.rawValue, default: 0] += 1
                for name in sample.classes { current!.shard.entry.classes[name, default: 0] += 1 }
            }
        }, afterBatch: { progress($0, toDo) })
        try closeShard(nextSample: plan.order.count)
        let taxonomy = options.taxonomy.map(ShardIndex.TaxonomyClasses.init)
        if let partition = options.partition {
            // The plan's rejected lines are the same in every part: part 1 reports them.
            let part = PartIndex(partition: partition, planHash: planHash, taxonomy: taxonomy, plan: planJSON,
                                 rejected: partition.index == 1 ? plan.rejected : [], shards: shards)
            try Files.writeAtomically(part.json.pretty, to: "\(options.out)/\(PartIndex.fileName(partition))")
            unlink(journalPath)
            return PackResult(samples: shards.reduce(0) { $0 + $1.entry.samples }, shards: shards.map(\.entry.name),
                              bytes: shards.reduce(0) { $0 + $1.entry.bytes }, errors: part.rejected + shards.flatMap(\.errors),
                              resumedShards: resumed)
        }
        let errors = plan.rejected + shards.flatMap(\.errors) + pendingErrors

        let index = ShardIndex(synmixVersion: synmixVersion, taxonomy: taxonomy, plan: planJSON, skipped: errors.count,
                               shards: shards.map(\.entry))
        try writeIndex(index, errors: errors, to: options.out)
        unlink(journalPath)
        return PackResult(samples: index.samples, shards: shards.map(\.entry.name),
                          bytes: shards.reduce(0) { $0 + $1.entry.bytes }, errors: errors, resumedShards: resumed)
    }

    /// Resume: the journal's shards whose files still hash as recorded, in the order this run writes them; anything
    /// after them is stale and removed, so the listing matches the index. A part touches only its own shards (the
    /// other parts may be writing theirs at the same time). The journal is rewritten with the kept shards.
    static func keepCompleteShards(_ options: PackOptions, _ shardPlan: ShardPlan, planHash: String,
                                   journalPath: String) throws -> [WrittenShard] {
        // The names this run writes, in order (a partition's own; all of them otherwise).
        func expectedName(_ nth: Int) -> String {
            options.partition == nil ? shardName(options.prefix, nth) : shardName(options.prefix, shardPlan.partShards[nth])
        }
        var shards: [WrittenShard] = []
        for shard in PackJournal.shards(at: journalPath, planHash: planHash) {
            guard options.partition == nil || shards.count < shardPlan.partShards.count, shard.entry.name == expectedName(shards.count),
                  let bytes = try? Files.read("\(options.out)/\(shard.entry.name)"), SHA256Hasher.hex(bytes) == shard.entry.sha256 else { break }
            shards.append(shard)
        }
        let mine = options.partition.map { _ in Set(shardPlan.partShards.map { shardName(options.prefix, $0) }) }
        for name in Files.list(options.out) where name.hasPrefix("\(options.prefix)-") &&
            (name.hasSuffix(".tar") || name.hasSuffix(".tar.tmp")) && !shards.contains(where: { $0.entry.name == name }) {
            if let mine, !mine.contains(String(name.hasSuffix(".tmp") ? name.dropLast(4) : name[...])) { continue }
            unlink("\(options.out)/\(name)")
        }
        try PackJournal(planHash: planHash, shards: shards).write(to: journalPath)
        return shards
    }

    /// One planned record (its manifest line) as a shard sample, or why it is skipped: a line that is not a
    /// record, a class outside the taxonomy, an image that cannot be read.
    static func buildSample(line: Substring, id: String, path: String, options: PackOptions) -> Result<BuiltSample, FileError> {
        do {
            let record = try ManifestRecord(jsonLine: line, file: path, line: 0)
            if let problem = options.taxonomy?.foreignInstance(in: record.instances) { throw PackError(problem) }
            return Result { () throws(FileError) in try SampleBuilder.build(record, options: options.sample) }
        } catch {
            return .failure(FileError(path: path, reason: "record \(id): \(error)"))
        }
    }

    static func writeIndex(_ index: ShardIndex, errors: [FileError], to out: String) throws {
        try Files.writeAtomically(errors.map { $0.json.compact + "\n" }.joined(), to: "\(out)/errors.jsonl")
        try Files.writeAtomically(index.json.pretty, to: "\(out)/\(ShardIndex.fileName)")
    }

    /// Everything that fixes the output: inputs (by content hash), seed, counts, options.
    static func packPlan(_ plan: MixPlan, _ options: PackOptions) -> PackPlan {
        var actual: [String: Int] = [:]
        for sample in plan.order { actual[sample.domain.rawValue, default: 0] += 1 }
        let sample = options.sample
        return PackPlan(
            inputs: plan.inputs.map { input in
                PackPlan.Input(name: input.name, manifest: input.path, sha256: input.sha256, records: input.records,
                               eligible: input.eligible, requested: input.requested, chosen: input.chosen)
            },
            seed: options.seed, split: options.split,
            countsPerInput: plan.inputs.map { PackPlan.Count($0.name, $0.chosen) },
            countsPerDomain: actual.map { PackPlan.Count($0.key, $0.value) },
            options: PackPlan.Options(prefix: options.prefix, shardBytes: options.shardBytes, shardSamples: options.shardSamples,
                                      imageFormat: sample.imageFormat.rawValue, jpegQuality: sample.jpegQuality, pngLevel: sample.pngLevel,
                                      scale: sample.scale, maxSize: sample.maxSize.map { [$0.width, $0.height] },
                                      rootMap: sample.rootMap.map { "\($0.old)=\($0.new)" }))
    }
}
