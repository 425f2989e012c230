/// The one way a random sub-stream gets its seed: from the user's seed, a name saying what the stream is for
/// ("mix-order", "scene", "epoch-order"…) and the indices that tell its instances apart (a frame, an epoch, a
/// worker). Streams with different names or indices are independent, and adding a stream never moves another
/// (an ad hoc `seed ^ 0x5EED` or `seed + frame * 7919` can collide with a neighbour's). The arithmetic is
/// FNV-1a of the name's UTF-8, then SplitMix64's output function over the seed and each index in turn;
/// `python/synmix_torch/seeds.py` computes the same numbers (a test pins both to one table).
public enum Seed {
    public static func derive(_ seed: UInt64, _ name: String, _ indices: UInt64...) -> UInt64 {
        derive(seed, name, indices: indices)
    }

    public static func derive(_ seed: UInt64, _ name: String, indices: [UInt64]) -> UInt64 {
        var value = mix(seed ^ fnv1a(name))
        for index in indices { value = mix(value ^ index) }
        return value
    }

    /// FNV-1a, 64 bits: a stable hash of a name (Swift's `Hasher` is seeded per process).
    public static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// SplitMix64's first output from `state`: a bijective mix of all 64 bits.
    static func mix(_ state: UInt64) -> UInt64 {
        var generator = SplitMix64(seed: state)
        return generator.next()
    }
}
