import Foundation
import SynmixCore
import SynmixFormats

/// Streams samples from shards: each epoch visits the shards in a new seeded
/// order, reads them sequentially, and shuffles through a bounded buffer
/// (memory is the buffer plus one shard, not the dataset), as webdataset's
/// shuffle does. A damaged shard or sample is reported through `report` and
/// skipped; the samples before the damage are used.
public struct ShardStream: Sendable {
    public var shards: [String]
    public var bufferSize: Int
    public var seed: UInt64
    public var shuffle: Bool

    public init(shards: [String], bufferSize: Int, seed: UInt64, shuffle: Bool = true) {
        self.shards = shards
        self.bufferSize = max(1, bufferSize)
        self.seed = seed
        self.shuffle = shuffle
    }

    /// Calls `body` for every sample of `epoch`; stops early if it returns false.
    public func forEach(epoch: Int, report: (FileError) -> Void = { _ in }, _ body: (ShardSample) throws -> Bool) throws {
        var iterator = makeIterator(epoch: epoch)
        while let sample = iterator.next(report: report) {
            if try !body(sample) { return }
        }
    }

    public func makeIterator(epoch: Int) -> Iterator { Iterator(stream: self, epoch: epoch) }

    /// The samples of one epoch, pulled one at a time. A shard is read member by
    /// member, so memory holds the shuffle buffer and one sample, not the shard.
    public struct Iterator {
        let stream: ShardStream
        var random: SplitMix64
        var order: [String]
        var nextShard = 0
        var buffer: [ShardSample] = []
        var shard: ShardReader?

        init(stream: ShardStream, epoch: Int) {
            self.stream = stream
            random = SplitMix64(seed: Seed.derive(stream.seed, "epoch-order", UInt64(epoch)))
            order = stream.shards
            if stream.shuffle { random.shuffle(&order) }
            buffer.reserveCapacity(stream.bufferSize)
        }

        public mutating func next(report: (FileError) -> Void) -> ShardSample? {
            while let sample = nextInOrder(report: report) {
                if !stream.shuffle { return sample }
                if buffer.count < stream.bufferSize {
                    buffer.append(sample)
                    continue
                }
                // Emit a random buffered sample and keep the new one in its place.
                let pick = Int(random.next() % UInt64(stream.bufferSize))
                let out = buffer[pick]
                buffer[pick] = sample
                return out
            }
            guard !buffer.isEmpty else { return nil }
            let pick = Int(random.next() % UInt64(buffer.count))
            buffer.swapAt(pick, buffer.count - 1)
            return buffer.removeLast()
        }

        /// The next sample in shard order, across the epoch's shards.
        mutating func nextInOrder(report: (FileError) -> Void) -> ShardSample? {
            while true {
                if shard == nil {
                    guard nextShard < order.count else { return nil }
                    do { shard = try ShardReader(path: order[nextShard]) } catch {
                        report(error as? FileError ?? FileError(path: order[nextShard], reason: "\(error)"))
                    }
                    nextShard += 1
                    continue
                }
                if let sample = shard!.next(report: report) { return sample }
                shard = nil
            }
        }
    }

}
