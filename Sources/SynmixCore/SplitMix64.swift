/// Small, fast, seedable generator (Steele, Lea & Flood 2014). Every random
/// choice in synmix goes through one of these so that a seed fixes the output
/// on every platform (Swift's SystemRandomNumberGenerator cannot be seeded).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Fisher–Yates with this generator: the same order on every platform and Swift version (the standard
    /// library's `shuffle(using:)` does not promise its algorithm).
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, Int(next() % UInt64(i + 1))) }
    }
}
