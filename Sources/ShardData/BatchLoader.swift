import Foundation
import Synchronization
import SynmixCore
import SynmixFormats

/// A named set of training shards (`--train NAME=SHARDS`).
public struct TrainingSource: Sendable {
    public var name: String
    public var shards: [String]
    public init(name: String, shards: [String]) {
        self.name = name
        self.shards = shards
    }
}

/// Where each source's stream stands: its epoch and the samples consumed in it.
/// Saved with every checkpoint, so a resumed run reads the same samples.
public struct LoaderCursor: Sendable, Equatable {
    public var epochs: [Int]
    public var positions: [Int]
    public init(sources: Int) {
        epochs = Array(repeating: 0, count: sources)
        positions = Array(repeating: 0, count: sources)
    }
}

/// One batch as the network consumes it (shapes as in PreparedSample, with N in front).
public struct Batch: Sendable {
    public var size: Int
    public var images: [Float]
    public var semantic: [Int32]
    public var center: [Float]
    public var offset: [Float]
    public var offsetWeight: [Float]
    /// Samples per source in this batch.
    public var composition: [Int]
    /// The data position after this batch.
    public var cursor: LoaderCursor

    public init(size: Int, images: [Float], semantic: [Int32], center: [Float], offset: [Float], offsetWeight: [Float],
                composition: [Int], cursor: LoaderCursor) {
        self.size = size
        self.images = images
        self.semantic = semantic
        self.center = center
        self.offset = offset
        self.offsetWeight = offsetWeight
        self.composition = composition
        self.cursor = cursor
    }
}

/// Produces fixed-size batches on a background thread, a few steps ahead of
/// training: samples are pulled from each source's shuffled stream, decoded and
/// augmented on `jobs` threads, and a sample that cannot be read is reported and
/// replaced by the next one. Everything random derives from the seed, the step
/// and the sample's position, so the batches do not depend on thread timing.
public final class BatchLoader: @unchecked Sendable {
    public struct Settings: Sendable {
        public var batch: Int
        public var width: Int, height: Int
        public var classes: [String]
        public var augmentation: Augmentation?
        public var seed: UInt64
        public var jobs: Int
        public var bufferSize = 256
        /// Bytes of decoded samples kept across epochs (`DecodedSamples`); 0 decodes every sample every time.
        public var decodedCacheBytes = DecodedSamples.defaultBudget
        /// Standard deviation of the centre Gaussians, in head pixels.
        public var centerSigma = Targets.defaultSigma
        /// Share of each source per batch; nil: one stream over the union of all sources.
        public var shares: [Double]?
        public init(batch: Int, width: Int, height: Int, classes: [String], augmentation: Augmentation?, seed: UInt64,
                    jobs: Int, shares: [Double]?) {
            self.batch = batch
            self.width = width
            self.height = height
            self.classes = classes
            self.augmentation = augmentation
            self.seed = seed
            self.jobs = jobs
            self.shares = shares
        }
    }

    let settings: Settings
    private let condition = NSCondition()
    private var queue: [Result<Batch, Error>] = []
    private var stopped = false
    private let depth = 2
    private var thread: Thread?
    private let report: @Sendable (FileError) -> Void
    private let decoded: DecodedSamples

    /// Starts producing from `cursor` (the state saved with a checkpoint), batch number `step` on.
    public init(sources: [TrainingSource], settings: Settings, cursor: LoaderCursor?, step: Int,
                report: @escaping @Sendable (FileError) -> Void) throws {
        self.settings = settings
        self.report = report
        decoded = DecodedSamples(budget: settings.decodedCacheBytes)
        var streams: [SourceStream] = []
        if settings.shares == nil {
            let all = sources.flatMap(\.shards)
            streams = [SourceStream(index: 0, stream: ShardStream(shards: all, bufferSize: settings.bufferSize, seed: settings.seed))]
        } else {
            for (i, source) in sources.enumerated() {
                streams.append(SourceStream(index: i, stream: ShardStream(shards: source.shards, bufferSize: settings.bufferSize,
                                                                          seed: Seed.derive(settings.seed, "source", UInt64(i)))))
            }
        }
        let start = cursor ?? LoaderCursor(sources: streams.count)
        guard start.epochs.count == streams.count else {
            throw LoaderError.resumeSourcesDiffer(recorded: start.epochs.count, given: streams.count)
        }
        for i in streams.indices { try streams[i].seek(epoch: start.epochs[i], position: start.positions[i], report: report) }
        let producer = Thread { [unchecked = UncheckedBox(streams)] in
            var streams = unchecked.value
            self.produce(&streams, from: step)
        }
        producer.stackSize = 8 << 20
        thread = producer
        producer.start()
    }

    deinit { stop() }

    /// Ends the background thread (it finishes its current batch first).
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch; blocks until it is ready.
    public func next() throws -> Batch {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty { condition.wait() }
        let result = queue.removeFirst()
        condition.broadcast()
        return try result.get()
    }

    /// How many samples of each source batch `step` takes: floor(B·share), the
    /// remaining slots drawn by share with a generator seeded by the step.
    public static func composition(step: Int, batch: Int, shares: [Double], seed: UInt64) -> [Int] {
        var counts = shares.map { Int((Double(batch) * $0).rounded(.down)) }
        var remainders = shares.enumerated().map { Double(batch) * $1 - Double(counts[$0]) }
        var random = SplitMix64(seed: Seed.derive(seed, "batch-composition", UInt64(step)))
        var left = batch - counts.reduce(0, +)
        while left > 0 {
            let total = remainders.reduce(0, +)
            var pick = remainders.indices.last { remainders[$0] > 0 } ?? 0
            var r = random.unit() * total
            for (i, weight) in remainders.enumerated() where weight > 0 {
                if r < weight { pick = i; break }
                r -= weight
            }
            counts[pick] += 1
            remainders[pick] = 0
            left -= 1
        }
        return counts
    }

    private func produce(_ streams: inout [SourceStream], from firstStep: Int) {
        var step = firstStep
        while true {
            condition.lock()
            while queue.count >= depth && !stopped { condition.wait() }
            let done = stopped
            condition.unlock()
            if done { return }
            let result = Result { try makeBatch(&streams, step: step) }
            condition.lock()
            queue.append(result)
            condition.broadcast()
            condition.unlock()
            if case .failure = result { return }
            step += 1
        }
    }

    private func makeBatch(_ streams: inout [SourceStream], step: Int) throws -> Batch {
        let s = settings, decoded = decoded
        let counts = s.shares.map { Self.composition(step: step, batch: s.batch, shares: $0, seed: s.seed) } ?? [s.batch]
        var prepared: [PreparedSample] = []
        for (i, count) in counts.enumerated() where count > 0 {
            var ready: [PreparedSample] = []
            while ready.count < count {
                var pulled: [(ShardSample, UInt64)] = []
                for _ in 0..<(count - ready.count) { pulled.append(try streams[i].next(report: report, seed: s.seed)) }
                let outcomes = parallelMap(pulled, jobs: s.jobs) { sample, seed -> Result<(PreparedSample, FileError?), Error> in
                    Result {
                        var random = SplitMix64(seed: seed)
                        let decoded = try decoded.sample(sample)
                        let prepared = Targets.prepare(decoded, classes: s.classes, width: s.width, height: s.height,
                                                       augmentation: s.augmentation, sigma: s.centerSigma, random: &random)
                        return (prepared, decoded.unknownClasses(s.classes, scope: "the taxonomy's instance classes"))
                    }
                }
                for outcome in outcomes {
                    switch outcome {
                    case .success(let (sample, problem)):
                        // A class outside the taxonomy: trained on as an ignore region, and said so.
                        if let problem { report(problem) }
                        ready.append(sample)
                    case .failure(let error): report(error as? FileError ?? FileError(path: "shard", reason: "\(error)"))
                    }
                }
            }
            prepared += ready
        }
        var cursor = LoaderCursor(sources: streams.count)
        for (i, stream) in streams.enumerated() { cursor.epochs[i] = stream.epoch; cursor.positions[i] = stream.position }
        return Batch(size: s.batch, images: prepared.flatMap(\.image), semantic: prepared.flatMap(\.semantic),
                     center: prepared.flatMap(\.center), offset: prepared.flatMap(\.offset),
                     offsetWeight: prepared.flatMap(\.offsetWeight), composition: counts, cursor: cursor)
    }
}

/// Decoded samples kept across epochs, up to a budget in bytes. A training set is read every epoch, and decoding
/// its images and records is most of the loader's work (the demo's 100 real frames are read 144 times); a set
/// within the budget is decoded once. Samples enter until the budget is spent and stay: a larger set keeps the
/// samples it met first and decodes the others every time, so memory stays bounded as the set grows. A sample
/// that cannot be decoded is not kept (it is reported again each epoch, as without the cache).
public final class DecodedSamples: Sendable {
    public static let defaultBudget = 512 << 20
    let budget: Int
    private let kept = Mutex<(samples: [String: DecodedSample], bytes: Int)>(([:], 0))

    public init(budget: Int) { self.budget = budget }

    /// The sample decoded, from the cache when it was decoded before (the same values either way).
    public func sample(_ sample: ShardSample) throws -> DecodedSample {
        // Keys are unique within a shard, not across shards.
        let id = "\(sample.shard)\u{0}\(sample.key)"
        if budget > 0, let hit = kept.withLock({ $0.samples[id] }) { return hit }
        let decoded = try DecodedSample(sample)
        // The pixels, and the record's masks at 4 bytes per run (at most 4 bytes per character of its JSON).
        let bytes = decoded.pixels.samples.count + 4 * sample.json.count
        kept.withLock {
            guard $0.bytes + bytes <= budget, $0.samples[id] == nil else { return }
            $0.samples[id] = decoded
            $0.bytes += bytes
        }
        return decoded
    }

    /// Bytes kept so far.
    public var bytes: Int { kept.withLock { $0.bytes } }
}

/// One source's endless stream: epoch after epoch, each in a new order.
struct SourceStream {
    let index: Int
    let stream: ShardStream
    private(set) var epoch = 0
    private(set) var position = 0
    private var iterator: ShardStream.Iterator

    init(index: Int, stream: ShardStream) {
        self.index = index
        self.stream = stream
        iterator = stream.makeIterator(epoch: 0)
    }

    /// Moves to a saved data position. A position is a count of samples into its epoch, so it must lie
    /// within the epoch: one past its end would otherwise be skipped through epoch after epoch
    /// (a hostile 10¹⁸ never ends).
    mutating func seek(epoch: Int, position: Int, report: (FileError) -> Void) throws {
        let place = stream.shards.first ?? "shards"
        guard epoch >= 0, position >= 0 else {
            throw FileError(path: place, reason: "the data position (epoch \(epoch), sample \(position)) to resume at is negative")
        }
        self.epoch = epoch
        self.position = 0
        iterator = stream.makeIterator(epoch: epoch)
        while self.position < position {
            guard iterator.next(report: report) != nil else {
                throw FileError(path: place, reason: "the data position to resume at, sample \(position) of epoch \(epoch), is past the "
                                + "\(self.position) samples of the \(stream.shards.count) shard(s): were they trained on other shards?")
            }
            self.position += 1
        }
    }

    /// The next sample and the seed of its augmentation (from the source, epoch and position).
    mutating func next(report: (FileError) -> Void, seed: UInt64) throws -> (ShardSample, UInt64) {
        if let sample = iterator.next(report: report) {
            defer { position += 1 }
            return (sample, Seed.derive(seed, "augmentation", UInt64(index), UInt64(epoch), UInt64(position)))
        }
        guard position > 0 else {
            throw FileError(path: stream.shards.first ?? "shards", reason: "no readable sample in \(stream.shards.count) shard(s)")
        }
        epoch += 1
        position = 0
        iterator = stream.makeIterator(epoch: epoch)
        return try next(report: report, seed: seed)
    }
}

/// A loader that cannot start from the position it was given (the run's options, not a file, are at fault).
public enum LoaderError: Error, Equatable, CustomStringConvertible {
    /// The checkpoint's data position counts one number of sources, this run another.
    case resumeSourcesDiffer(recorded: Int, given: Int)

    public var description: String {
        switch self {
        case .resumeSourcesDiffer(let recorded, let given):
            "the checkpoint's data position has \(recorded) source(s), this run \(given): resume with the same --train sources"
        }
    }
}
