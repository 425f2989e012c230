import XCTest
@testable import Network
import SynmixCore

/// The convolutions as the network runs them (im2col in L2-sized bands of output rows,
/// vectorised stride-2 gathers and scatters, images split over threads) against the
/// definition summed directly in Double, on shapes large enough to take every one of
/// those paths: several bands per image, rows wider than a vector, an odd width for the tails.
final class ConvolutionTests: XCTestCase {
    var random = SplitMix64(seed: 15)

    func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.unit() * 2 - 1) } }

    /// out, dInput and dWeight by the definition: out[n,o,y,x] = Σ w[o,c,ky,kx]·in[n,c,y·s−p+ky,x·s−p+kx].
    func direct(_ s: ConvShape, input: [Float], weight: [Float], dOut: [Float]) -> (out: [Double], dInput: [Double], dWeight: [Double]) {
        var out = [Double](repeating: 0, count: s.batch * s.outChannels * s.outHeight * s.outWidth)
        var dInput = [Double](repeating: 0, count: input.count), dWeight = [Double](repeating: 0, count: weight.count)
        for n in 0..<s.batch { for o in 0..<s.outChannels { for y in 0..<s.outHeight { for x in 0..<s.outWidth {
            let outIndex = ((n * s.outChannels + o) * s.outHeight + y) * s.outWidth + x
            for c in 0..<s.inChannels { for ky in 0..<s.kernel { for kx in 0..<s.kernel {
                let iy = y * s.stride - s.padding + ky, ix = x * s.stride - s.padding + kx
                guard iy >= 0 && iy < s.height && ix >= 0 && ix < s.width else { continue }
                let inIndex = ((n * s.inChannels + c) * s.height + iy) * s.width + ix
                let weightIndex = ((o * s.inChannels + c) * s.kernel + ky) * s.kernel + kx
                out[outIndex] += Double(weight[weightIndex]) * Double(input[inIndex])
                dInput[inIndex] += Double(weight[weightIndex]) * Double(dOut[outIndex])
                dWeight[weightIndex] += Double(input[inIndex]) * Double(dOut[outIndex])
            } } }
        } } } }
        return (out, dInput, dWeight)
    }

    func assertClose(_ actual: [Float], _ expected: [Double], _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, name, file: file, line: line)
        let largest = expected.map(abs).max() ?? 0
        let worst = zip(actual, expected).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertGreaterThan(largest, 0.1, "\(name) is all zeros", file: file, line: line)
        XCTAssertLessThan(worst, 1e-5 * largest + 1e-5, "\(name): worst difference \(worst), largest value \(largest)", file: file, line: line)
    }

    func check(_ s: ConvShape, expectedBands: Int, parts: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Array(s.bands).count, expectedBands, "bands of \(s)", file: file, line: line)
        XCTAssertEqual(Array(s.bands).flatMap { $0 }, Array(0..<s.outHeight), "the bands cover every output row once", file: file, line: line)
        let input = values(s.batch * s.inChannels * s.height * s.width), weight = values(s.outChannels * s.columnRows)
        let dOut = values(s.batch * s.outChannels * s.outHeight * s.outWidth)
        let expected = direct(s, input: input, weight: weight, dOut: dOut)
        var scratch = [Float](repeating: 0, count: s.scratchCount * parts)
        var weightScratch = [Float](repeating: 0, count: weightScratchCount(s, parts: parts))
        var out = [Float](repeating: 0, count: dOut.count)
        conv2dForward(&out, input, weight, nil, s, scratch: &scratch, parts: parts)
        assertClose(out, expected.out, "out", file: file, line: line)
        // With weight scratch (as the workspace runs: a same-size convolution's input gradient is a
        // convolution) and without (every input gradient through col2im).
        for withScratch in [true, false] {
            var dInput = [Float](repeating: .nan, count: input.count), dWeight = [Float](repeating: 0, count: weight.count)
            if withScratch {
                conv2dBackward(&dInput, &dWeight, nil, dOut, input, weight, s, scratch: &scratch, weightScratch: &weightScratch, parts: parts)
            } else {
                conv2dBackward(&dInput, &dWeight, nil, dOut, input, weight, s, scratch: &scratch)
            }
            assertClose(dInput, expected.dInput, "dInput (weight scratch: \(withScratch))", file: file, line: line)
            assertClose(dWeight, expected.dWeight, "dWeight (weight scratch: \(withScratch))", file: file, line: line)
        }
    }

    func testSameSizeConvolutionInBandsEqualsTheDefinition() {
        // 216 column rows × 40 pixels: 3 rows fit the band budget, 4 make the minimum width → 4 bands of 4 rows.
        check(ConvShape(batch: 2, inChannels: 24, height: 16, width: 40, outChannels: 8, kernel: 3, stride: 1, padding: 1),
              expectedBands: 4, parts: 2)
    }

    func testStrideTwoConvolutionInBandsEqualsTheDefinition() {
        // Odd input height and width (31×71 → 16×36 outputs): the last rows and columns take the tails; 4 bands of 4 rows.
        check(ConvShape(batch: 3, inChannels: 24, height: 31, width: 71, outChannels: 6, kernel: 3, stride: 2, padding: 1),
              expectedBands: 4, parts: 2)
        // Three input channels (the stem): one band holds the whole image.
        check(ConvShape(batch: 1, inChannels: 3, height: 32, width: 64, outChannels: 5, kernel: 3, stride: 2, padding: 1),
              expectedBands: 1, parts: 1)
    }

    func testChannelAffineInBandsEqualsBatchNormAfterTheConvolution() {
        // Evaluation mode folds batch norm (and its ReLU) into the convolution's bands: the same bits
        // as the affine map applied to the whole output afterwards, for a band count above 1.
        let s = ConvShape(batch: 2, inChannels: 24, height: 16, width: 40, outChannels: 8, kernel: 3, stride: 1, padding: 1)
        let input = values(s.batch * s.inChannels * s.height * s.width), weight = values(s.outChannels * s.columnRows)
        let scale = values(s.outChannels), shift = values(s.outChannels)
        var scratch = [Float](repeating: 0, count: 2 * s.scratchCount)   // two threads
        for relu in [false, true] {
            var expected = [Float](repeating: 0, count: s.batch * s.outChannels * s.outHeight * s.outWidth), fused = expected
            conv2dForward(&expected, input, weight, nil, s, scratch: &scratch)
            let pixels = s.outHeight * s.outWidth
            for i in expected.indices {
                let channel = i / pixels % s.outChannels, value = expected[i] * scale[channel] + shift[channel]
                expected[i] = relu ? max(0, value) : value
            }
            scale.withUnsafeBufferPointer { scale in shift.withUnsafeBufferPointer { shift in
                conv2dForward(&fused, input, weight, nil, s, scratch: &scratch, parts: 2,
                              affine: ChannelAffine(scale: scale.baseAddress!, shift: shift.baseAddress!, relu: relu))
            } }
            XCTAssertEqual(fused, expected, "relu: \(relu)")
            XCTAssertEqual(fused.contains { $0 < 0 }, !relu)
        }
    }
}
