import Dispatch
import Synchronization

/// Maps `items` on `jobs` threads; results keep the input order.
public func parallelMap<Item: Sendable, Output: Sendable>(_ items: [Item], jobs: Int,
                                                   _ body: @Sendable (Item) -> Output) -> [Output] {
    let results = Mutex([Output?](repeating: nil, count: items.count))
    let next = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: min(jobs, items.count)) { _ in
        while true {
            let index = next.add(1, ordering: .relaxed).oldValue
            guard index < items.count else { return }
            let output = body(items[index])
            results.withLock { $0[index] = output }
        }
    }
    return results.withLock { $0.map { $0! } }
}

/// The stages' loop: pulls items in order from `next`, maps them on `jobs` threads
/// `jobs × perJob` at a time, and hands every output to `consume` in input order.
/// Memory holds one batch, and the output does not depend on `jobs`. `afterBatch`
/// gets the number of items done so far (for progress).
public func orderedParallelMap<Item: Sendable, Output: Sendable>(
    jobs: Int, perJob: Int, next: () throws -> Item?, _ transform: @Sendable (Item) -> Output,
    consume: (Output) throws -> Void, afterBatch: (Int) -> Void = { _ in }
) throws {
    let jobs = max(1, jobs), batchSize = jobs * max(1, perJob)
    var done = 0
    while true {
        var batch: [Item] = []
        while batch.count < batchSize, let item = try next() { batch.append(item) }
        if batch.isEmpty { return }
        for output in parallelMap(batch, jobs: jobs, transform) { try consume(output) }
        done += batch.count
        afterBatch(done)
        if batch.count < batchSize { return }
    }
}

/// Hands a value to another thread where the caller guarantees the access is safe
/// (each thread touches its own part, or the value is only read).
public struct UncheckedBox<Value>: @unchecked Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}
