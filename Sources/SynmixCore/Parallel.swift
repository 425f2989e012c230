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

/// Hands a value to another thread where the caller guarantees the access is safe
/// (each thread touches its own part, or the value is only read).
public struct UncheckedBox<Value>: @unchecked Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}
