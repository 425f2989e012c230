/// The official script's arithmetic, reproduced to the last bit
/// (cityscapesScripts evalInstanceLevelSemanticLabeling.py, evaluateMatches and computeAverages): the precision/recall points at every
/// distinct score, the trapezoid step widths, numpy's dot product as the
/// bundled OpenBLAS computes it, and numpy's pairwise sums for the averages.
public enum APMath {
    public static func averagePrecision(yTrue: [Bool], yScore: [Double], hardFalseNegatives: Int) -> Double {
        let order = yScore.indices.sorted { yScore[$0] < yScore[$1] }
        let scores = order.map { yScore[$0] }
        let truths = order.map { yTrue[$0] ? 1 : 0 }
        var cumulative = [Int](repeating: 0, count: truths.count)
        var running = 0
        for (i, t) in truths.enumerated() { running += t; cumulative[i] = running }
        // First index of each distinct score, ascending.
        var firstIndices: [Int] = []
        for i in scores.indices where i == 0 || scores[i] != scores[i - 1] { firstIndices.append(i) }
        let examples = scores.count, trueExamples = cumulative.last ?? 0
        var precision = [Double](repeating: 0, count: firstIndices.count + 1)
        var recall = [Double](repeating: 0, count: firstIndices.count + 1)
        for (k, index) in firstIndices.enumerated() {
            let below = index > 0 ? cumulative[index - 1] : 0   // TP with a lower score
            let tp = trueExamples - below
            let fp = examples - index - tp
            let fn = below + hardFalseNegatives
            precision[k] = Double(tp) / Double(tp + fp)
            recall[k] = Double(tp) / Double(tp + fn)
        }
        precision[firstIndices.count] = 1
        recall[firstIndices.count] = 0
        // np.convolve([r0, r0, r1, …, rn, 0], [-0.5, 0, 0.5], 'valid'): w_i = 0.5·a[i] − 0.5·a[i+2].
        let a = [recall[0]] + recall + [0]
        let widths = (0..<recall.count).map { 0.5 * a[$0] - 0.5 * a[$0 + 2] }
        return openBLASDot(precision, widths)
    }

    /// numpy 1.26's bundled OpenBLAS ddot on x86-64: 16 fused lanes over full
    /// blocks, a fixed reduction tree, then a plain multiply-add tail.
    public static func openBLASDot(_ x: [Double], _ y: [Double]) -> Double {
        let n = x.count, blocked = n & ~15
        var dot = 0.0
        if blocked > 0 {
            var lanes = [Double](repeating: 0, count: 16)
            var i = 0
            while i < blocked {
                for k in 0..<16 { lanes[k] = lanes[k].addingProduct(x[i + k], y[i + k]) }
                i += 16
            }
            let l0 = (lanes[0] + lanes[2]) + (lanes[4] + lanes[6]), l1 = (lanes[1] + lanes[3]) + (lanes[5] + lanes[7])
            let o0 = (lanes[8] + lanes[10]) + (lanes[12] + lanes[14]), o1 = (lanes[9] + lanes[11]) + (lanes[13] + lanes[15])
            dot = (l0 + o0) + (l1 + o1)
        }
        for i in blocked..<n {
            let product = x[i] * y[i]
            dot += product
        }
        return dot
    }

    /// numpy's pairwise summation for contiguous float64 (n <= 128 here: 8 accumulators).
    public static func pairwiseSum(_ values: [Double]) -> Double {
        let n = values.count
        if n < 8 { return values.reduce(0, +) }
        if n > 128 {
            let half = (n / 2) & ~7
            return pairwiseSum(Array(values[0..<half])) + pairwiseSum(Array(values[half...]))
        }
        var r = Array(values[0..<8])
        var i = 8
        while i + 8 <= n {
            for j in 0..<8 { r[j] += values[i + j] }
            i += 8
        }
        var result = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n { result += values[i]; i += 1 }
        return result
    }

    /// np.nanmean: NaN → 0, pairwise sum, divided by the number of non-NaN values (NaN if none).
    public static func nanMean(_ values: [Double]) -> Double {
        let count = values.filter { !$0.isNaN }.count
        guard count > 0 else { return .nan }
        return pairwiseSum(values.map { $0.isNaN ? 0 : $0 }) / Double(count)
    }

    /// np.average of one class's 10 values (NaN propagates).
    public static func classMean(_ values: [Double]) -> Double {
        pairwiseSum(values) / Double(values.count)
    }
}
