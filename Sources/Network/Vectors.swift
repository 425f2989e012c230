// Eight-lane float loads and stores, and the elementwise loops written with them. LLVM
// compiled the selects of these loops (a ReLU's mask) to a branch per element, which is
// unpredictable on activations; written with vectors they are one select per eight floats.

@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ value: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: value, as: SIMD8<Float>.self)
}

/// gradient[i] = 0 where output[i] ≤ 0 (back through a ReLU whose output was `output`), over `range`.
func reluBackward(_ gradient: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>, _ range: Range<Int>) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        store8(load8(gradient, i).replacing(with: 0, where: load8(output, i) .<= 0), gradient, i)
        i += 8
    }
    while i < range.upperBound { if output[i] <= 0 { gradient[i] = 0 }; i += 1 }
}

/// Per-channel affine map of a batch-norm: target[i] = source[i]·scale + shift, then max(0, ·)
/// when `relu` (NaN included: max(0, NaN) is 0, as Swift's max gives), over `count` elements.
/// Source and target may be the same buffer.
func affine(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int, scale: Float, shift: Float, relu: Bool) {
    var i = 0
    while i + 8 <= count {
        let value = load8(source, i) * scale + shift
        store8(relu ? value.replacing(with: 0, where: .!(value .>= 0)) : value, target, i)
        i += 8
    }
    while i < count {
        let value = source[i] * scale + shift
        target[i] = relu ? max(0, value) : value
        i += 1
    }
}
