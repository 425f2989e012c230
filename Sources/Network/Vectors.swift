// Eight-lane float loads and stores for the elementwise loops LLVM does not vectorise
// by itself: those that select (a ReLU's mask) branch on every element otherwise, and
// the branch is unpredictable on activations.

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
