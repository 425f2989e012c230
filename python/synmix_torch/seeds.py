"""The one way a random sub-stream gets its seed, the same numbers as Swift's `Seed.derive` (SynmixCore).

`derive(seed, "epoch-order", epoch)`: FNV-1a (64 bits) of the name's UTF-8, xor the seed, then SplitMix64's
output function; each index in turn is xored in and mixed again. Streams with other names or indices are
independent, and adding one never moves another. Both languages' tests pin the same table of values.
"""

MASK = (1 << 64) - 1


def fnv1a(text):
    """FNV-1a, 64 bits, of `text`'s UTF-8 (stable across processes, unlike Python's hash)."""
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) & MASK
    return value


def _mix(state):
    """SplitMix64's first output from `state`."""
    z = (state + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def derive(seed, name, *indices):
    """The seed of sub-stream `name` (and `indices`: a rank, a worker, an epoch, a position) of `seed`."""
    value = _mix((seed & MASK) ^ fnv1a(name))
    for index in indices:
        value = _mix(value ^ (index & MASK))
    return value
