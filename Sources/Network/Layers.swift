import COpenBLAS
import Dispatch
import SynmixCore

// Layers of the train-shards network as forward/backward function pairs over
// flat Float buffers (karpathy/llm.c style). Shapes are NCHW and written next
// to every buffer; backward functions ACCUMULATE into parameter gradients and
// OVERWRITE input gradients. No allocation happens inside them: scratch space
// (im2col columns) is passed in.

public struct ConvShape: Sendable, Equatable {
    public var batch, inChannels, height, width: Int
    public var outChannels, kernel, stride, padding: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch
        self.inChannels = inChannels
        self.height = height
        self.width = width
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Rows of one image's im2col matrix (K of the GEMM).
    public var columnRows: Int { inChannels * kernel * kernel }
    /// Rows of an im2col matrix: those of the convolution or, for a same-size one, of its input gradient.
    var largestColumnRows: Int { max(columnRows, isSameSize ? outChannels * kernel * kernel : 0) }
    /// Output rows per band: an image's im2col matrix is built and multiplied one band at a time, small
    /// enough (`bandFloats`) to stay in a core's L2 cache between im2col, OpenBLAS's packing and its kernel,
    /// but at least `bandPixels` wide so that the GEMM stays efficient. A whole 216×2048 matrix (1.7 MB)
    /// went through L3; bands of 2 rows made the step 15 % faster (issue 15).
    var bandRows: Int {
        let fitting = Self.bandFloats / max(1, largestColumnRows * outWidth), wide = (Self.bandPixels + outWidth - 1) / outWidth
        return max(1, min(outHeight, max(fitting, wide)))
    }
    static let bandFloats = 32_768, bandPixels = 128
    /// The bands' output rows, in order.
    var bands: LazyMapSequence<StrideTo<Int>, Range<Int>> {
        let (rows, height) = (bandRows, outHeight)
        return Swift.stride(from: 0, to: height, by: rows).lazy.map { $0..<min(height, $0 + rows) }
    }
    /// Floats of scratch space `conv2dForward`/`Backward` need: one band's im2col matrix.
    public var scratchCount: Int { isPointwise ? 0 : largestColumnRows * bandRows * outWidth }
    var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }
    /// A stride-1 k×k convolution padded to keep the size: its input gradient is itself a
    /// convolution (of dOut with the flipped, transposed weights).
    var isSameSize: Bool { kernel > 1 && stride == 1 && 2 * padding == kernel - 1 }
    /// The shape of that input-gradient convolution.
    var transposed: ConvShape {
        ConvShape(batch: batch, inChannels: outChannels, height: outHeight, width: outWidth, outChannels: inChannels,
                  kernel: kernel, stride: 1, padding: padding)
    }
}

/// The output columns x whose input column x·stride − padding + kx lies inside [0, width).
@inline(__always)
func validColumns(_ s: ConvShape, kx: Int) -> Range<Int> {
    func floorDivision(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    let first = max(0, -floorDivision(kx - s.padding, s.stride))
    let end = min(s.outWidth, floorDivision(s.width - 1 + s.padding - kx, s.stride) + 1)
    return first..<max(first, end)
}

/// im2col for one image's output rows `rows`: input [C, H, W] -> columns [C·k·k, rows·outW].
/// Rows are copied as runs (contiguous for stride 1), borders zero-filled.
func im2col(_ input: UnsafePointer<Float>, _ s: ConvShape, _ columns: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    if s.isSameSize { return sameSizeIm2col(input, s, columns, rows: rows) }
    let ow = s.outWidth, bandCount = rows.count * ow
    var row = 0
    for c in 0..<s.inChannels {
        let plane = input + c * s.height * s.width
        for ky in 0..<s.kernel {
            for kx in 0..<s.kernel {
                let valid = validColumns(s, kx: kx)
                for y in rows {
                    let target = columns + row * bandCount + (y - rows.lowerBound) * ow
                    let iy = y * s.stride - s.padding + ky
                    guard iy >= 0 && iy < s.height else { target.update(repeating: 0, count: ow); continue }
                    let source = plane + iy * s.width + kx - s.padding
                    target.update(repeating: 0, count: valid.lowerBound)
                    if s.stride == 1 {
                        (target + valid.lowerBound).update(from: source + valid.lowerBound, count: valid.count)
                    } else if s.stride == 2 {
                        // The even lanes of 16 loaded floats; the loads stay inside the input row.
                        var x = valid.lowerBound
                        while x + 8 <= valid.upperBound && kx - s.padding + 2 * x + 16 <= s.width {
                            store8(UnsafeRawPointer(source + 2 * x).loadUnaligned(as: SIMD16<Float>.self).evenHalf, target, x)
                            x += 8
                        }
                        while x < valid.upperBound { target[x] = source[2 * x]; x += 1 }
                    } else {
                        for x in valid { target[x] = source[x * s.stride] }
                    }
                    (target + valid.upperBound).update(repeating: 0, count: ow - valid.upperBound)
                }
                row += 1
            }
        }
    }
}

/// im2col of a same-size convolution: output and input rows have the same width, so each
/// column row of the band is one run of the input plane shifted by (ky − p)·W + kx − p,
/// copied at once; then the rows outside the image and the columns that ran over a row's
/// edge into its neighbour are zeroed.
private func sameSizeIm2col(_ input: UnsafePointer<Float>, _ s: ConvShape, _ columns: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    let (width, planeCount, bandCount) = (s.width, s.height * s.width, rows.count * s.width)
    var row = 0
    for c in 0..<s.inChannels {
        let plane = input + c * planeCount
        for ky in 0..<s.kernel {
            // Output rows whose input row y − p + ky lies inside the image.
            let inside = max(rows.lowerBound, s.padding - ky)..<max(rows.lowerBound, min(rows.upperBound, s.height + s.padding - ky))
            for kx in 0..<s.kernel {
                let target = columns + row * bandCount, dx = kx - s.padding
                let first = (inside.lowerBound - rows.lowerBound) * width, end = (inside.upperBound - rows.lowerBound) * width
                target.update(repeating: 0, count: first)
                (target + end).update(repeating: 0, count: bandCount - end)
                if !inside.isEmpty {
                    // The run's flat input indices, clamped to the plane (the clamped ends are edge columns, zeroed below).
                    let start = (inside.lowerBound - s.padding + ky) * width + dx
                    let from = max(0, start), to = min(planeCount, start + end - first)
                    (target + first + from - start).update(from: plane + from, count: to - from)
                    for y in 0..<inside.count {
                        let line = target + first + y * width
                        if dx < 0 { line.update(repeating: 0, count: -dx) } else if dx > 0 { (line + width - dx).update(repeating: 0, count: dx) }
                    }
                }
                row += 1
            }
        }
    }
}

/// col2im for one image's output rows `rows` (the adjoint of im2col): adds columns back into gradient [C, H, W].
func col2im(_ columns: UnsafePointer<Float>, _ s: ConvShape, _ gradient: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    let ow = s.outWidth, bandCount = rows.count * ow
    var row = 0
    for c in 0..<s.inChannels {
        let plane = gradient + c * s.height * s.width
        for ky in 0..<s.kernel {
            for kx in 0..<s.kernel {
                let valid = validColumns(s, kx: kx)
                for y in rows {
                    let iy = y * s.stride - s.padding + ky
                    guard iy >= 0 && iy < s.height else { continue }
                    let source = columns + row * bandCount + (y - rows.lowerBound) * ow
                    let target = plane + iy * s.width + kx - s.padding
                    if s.stride == 1 {
                        for x in valid { target[x] += source[x] }
                    } else if s.stride == 2 {
                        // Into the even lanes of 16 gradient floats; the stores stay inside the row.
                        var x = valid.lowerBound
                        while x + 8 <= valid.upperBound && kx - s.padding + 2 * x + 16 <= s.width {
                            let pointer = UnsafeMutableRawPointer(target + 2 * x)
                            var pairs = pointer.loadUnaligned(as: SIMD16<Float>.self)
                            pairs.evenHalf += load8(source, x)
                            pointer.storeBytes(of: pairs, as: SIMD16<Float>.self)
                            x += 8
                        }
                        while x < valid.upperBound { target[2 * x] += source[x]; x += 1 }
                    } else {
                        for x in valid { target[x * s.stride] += source[x] }
                    }
                }
                row += 1
            }
        }
    }
}

/// Runs `body` on `parts` contiguous slices of 0..<count, in parallel. The
/// slices depend only on `parts`, so results are the same run after run.
@inline(__always)
func partitioned(_ count: Int, _ parts: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
    if parts <= 1 || count <= 1 { body(0, 0..<count); return }
    // The slices touch disjoint memory; the pointers the body captures are not Sendable, hence the box.
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: parts) { p in shared.value(p, count * p / parts..<count * (p + 1) / parts) }
    }
}

/// A per-output-channel affine map and ReLU applied to a convolution's output band by band,
/// while it is still in cache: batch norm in evaluation mode (y = x·scale[o] + shift[o]).
public struct ChannelAffine {
    public var scale, shift: UnsafePointer<Float>
    public var relu: Bool

    public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, relu: Bool) {
        self.scale = scale
        self.shift = shift
        self.relu = relu
    }
}

/// out[N, O, oh, ow] = weight[O, C, k, k] * input[N, C, H, W] + bias[O], then `affine` if given.
/// One GEMM per band of output rows per image (batch-fused GEMMs measured
/// slower on 2 cores); images are split over `parts` threads, each with its own
/// `scratchCount` floats of `scratch`. OpenBLAS itself should run one thread then.
public func conv2dForward(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
                          _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                          _ s: ConvShape, scratch: UnsafeMutablePointer<Float>, parts: Int = 1, affine channelAffine: ChannelAffine? = nil) {
    func finish(_ result: UnsafeMutablePointer<Float>, _ pixels: Range<Int>) {
        guard let channelAffine else { return }
        for o in 0..<s.outChannels {
            let start = result + o * s.outHeight * s.outWidth + pixels.lowerBound
            affine(start, start, count: pixels.count, scale: channelAffine.scale[o], shift: channelAffine.shift[o], relu: channelAffine.relu)
        }
    }
    let spatial = s.outHeight * s.outWidth
    partitioned(s.batch, parts) { part, images in
        let columnsBuffer = scratch + part * s.scratchCount
        for n in images {
            let image = input + n * s.inChannels * s.height * s.width
            let result = out + n * s.outChannels * spatial
            if s.isPointwise {
                // 1×1: the input already is the column matrix
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(s.outChannels), Int32(spatial), Int32(s.columnRows),
                            1, weight, Int32(s.columnRows), image, Int32(spatial), 0, result, Int32(spatial))
                finish(result, 0..<spatial)
            } else {
                for band in s.bands {
                    let width = band.count * s.outWidth
                    im2col(image, s, columnsBuffer, rows: band)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(s.outChannels), Int32(width), Int32(s.columnRows),
                                1, weight, Int32(s.columnRows), columnsBuffer, Int32(width), 0, result + band.lowerBound * s.outWidth, Int32(spatial))
                    finish(result, band.lowerBound * s.outWidth..<band.upperBound * s.outWidth)
                }
            }
            if let bias {
                for o in 0..<s.outChannels {
                    let plane = result + o * spatial
                    for i in 0..<spatial { plane[i] += bias[o] }
                }
            }
        }
    }
}

/// Floats of `weightScratch` conv2dBackward needs for `parts` threads: per-thread weight
/// gradients, then room for the flipped weights of a same-size convolution.
public func weightScratchCount(_ s: ConvShape, parts: Int) -> Int {
    (parts <= 1 ? 0 : parts * (s.outChannels * s.columnRows + s.outChannels)) + s.outChannels * s.columnRows
}

/// Gradients of conv2dForward: dWeight/dBias accumulate, dInput (if given) is overwritten.
/// With `parts` > 1 each thread sums its images' weight gradients in its own slice of
/// `weightScratch`; the slices are then added in order (deterministic for a given `parts`).
public func conv2dBackward(_ dInput: UnsafeMutablePointer<Float>?, _ dWeight: UnsafeMutablePointer<Float>,
                           _ dBias: UnsafeMutablePointer<Float>?, _ dOut: UnsafePointer<Float>,
                           _ input: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                           _ s: ConvShape, scratch: UnsafeMutablePointer<Float>,
                           weightScratch: UnsafeMutablePointer<Float>? = nil, parts: Int = 1) {
    let spatial = s.outHeight * s.outWidth
    let inputCount = s.inChannels * s.height * s.width
    let weightCount = s.outChannels * s.columnRows
    let parts = weightScratch == nil ? 1 : min(parts, s.batch)
    // With scratch, a same-size convolution's input gradient is computed as a convolution:
    // flipped[C, O, ky, kx] = weight[O, C, k−1−ky, k−1−kx]. Its GEMM has inner dimension O·k·k
    // where the col2im route has O (and then scatters K×S values back).
    var flipped: UnsafeMutablePointer<Float>?
    if s.isSameSize, dInput != nil, let weightScratch {
        let target = weightScratch + (parts > 1 ? parts * (weightCount + s.outChannels) : 0)
        let k2 = s.kernel * s.kernel
        for o in 0..<s.outChannels {
            for c in 0..<s.inChannels {
                for t in 0..<k2 { target[(c * s.outChannels + o) * k2 + t] = weight[(o * s.inChannels + c) * k2 + k2 - 1 - t] }
            }
        }
        flipped = target
    }
    let transposed = s.transposed
    partitioned(s.batch, parts) { part, images in
        let columnsBuffer = scratch + part * s.scratchCount
        let (partWeight, partBias): (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?)
        if parts > 1, let weightScratch {
            partWeight = weightScratch + part * (weightCount + s.outChannels)
            partWeight.update(repeating: 0, count: weightCount + s.outChannels)
            partBias = partWeight + weightCount
        } else {
            (partWeight, partBias) = (dWeight, dBias)
        }
        for n in images {
            let gradient = dOut + n * s.outChannels * spatial
            let image = input + n * inputCount
            if dBias != nil, let partBias {
                for o in 0..<s.outChannels {
                    var sum: Float = 0
                    for i in 0..<spatial { sum += gradient[o * spatial + i] }
                    partBias[o] += sum
                }
            }
            let target = dInput.map { $0 + n * inputCount }
            if s.isPointwise {
                // dWeight[O, C] += dOut[O, S] · input[C, S]ᵀ
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(s.outChannels), Int32(s.columnRows), Int32(spatial),
                            1, gradient, Int32(spatial), image, Int32(spatial), 1, partWeight, Int32(s.columnRows))
                // dInput[C, S] = weightᵀ[C, O] · dOut[O, S]
                if let target {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(s.inChannels), Int32(spatial), Int32(s.outChannels),
                                1, weight, Int32(s.columnRows), gradient, Int32(spatial), 0, target, Int32(spatial))
                }
                continue
            }
            if let target, flipped == nil { target.initialize(repeating: 0, count: inputCount) }   // col2im adds
            for band in s.bands {
                let width = band.count * s.outWidth, bandGradient = gradient + band.lowerBound * s.outWidth
                // dWeight[O, K] += dOut[O, band] · columns[K, band]ᵀ
                im2col(image, s, columnsBuffer, rows: band)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(s.outChannels), Int32(s.columnRows), Int32(width),
                            1, bandGradient, Int32(spatial), columnsBuffer, Int32(width), 1, partWeight, Int32(s.columnRows))
                guard let target else { continue }
                if let flipped {
                    // dInput[C, band] = flipped[C, O·k·k] · im2col(dOut)[O·k·k, band]
                    im2col(gradient, transposed, columnsBuffer, rows: band)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(s.inChannels), Int32(width), Int32(transposed.columnRows),
                                1, flipped, Int32(transposed.columnRows), columnsBuffer, Int32(width), 0,
                                target + band.lowerBound * s.outWidth, Int32(spatial))
                } else {
                    // columns[K, band] = weightᵀ[K, O] · dOut[O, band], added back into dInput
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(s.columnRows), Int32(width), Int32(s.outChannels),
                                1, weight, Int32(s.columnRows), bandGradient, Int32(spatial), 0, columnsBuffer, Int32(width))
                    col2im(columnsBuffer, s, target, rows: band)
                }
            }
        }
    }
    guard parts > 1, let weightScratch else { return }
    for part in 0..<parts {
        let partWeight = weightScratch + part * (weightCount + s.outChannels)
        for i in 0..<weightCount { dWeight[i] += partWeight[i] }
        if let dBias { for o in 0..<s.outChannels { dBias[o] += partWeight[weightCount + o] } }
    }
}

/// Bilinear resize [N·C, H, W] -> [N·C, outH, outW] with PyTorch's
/// align_corners=False sampling (source = (dst + 0.5)·in/out − 0.5, clamped at 0).
/// Planes are split over `parts` threads.
public func upsampleForward(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
                            planes: Int, height: Int, width: Int, outHeight: Int, outWidth: Int, parts: Int = 1) {
    let ys = bilinearTaps(input: height, output: outHeight), xs = bilinearTaps(input: width, output: outWidth)
    partitioned(planes, parts) { _, planes in for p in planes {
        let source = input + p * height * width, target = out + p * outHeight * outWidth
        for y in 0..<outHeight {
            let (y0, y1, wy) = ys[y]
            for x in 0..<outWidth {
                let (x0, x1, wx) = xs[x]
                let top = source[y0 * width + x0] * (1 - wx) + source[y0 * width + x1] * wx
                let bottom = source[y1 * width + x0] * (1 - wx) + source[y1 * width + x1] * wx
                target[y * outWidth + x] = top * (1 - wy) + bottom * wy
            }
        }
    } }
}

public func upsampleBackward(_ dInput: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>,
                             planes: Int, height: Int, width: Int, outHeight: Int, outWidth: Int, parts: Int = 1) {
    let ys = bilinearTaps(input: height, output: outHeight), xs = bilinearTaps(input: width, output: outWidth)
    partitioned(planes, parts) { _, planes in for p in planes {
        let target = dInput + p * height * width, gradient = dOut + p * outHeight * outWidth
        target.initialize(repeating: 0, count: height * width)
        for y in 0..<outHeight {
            let (y0, y1, wy) = ys[y]
            for x in 0..<outWidth {
                let (x0, x1, wx) = xs[x]
                let g = gradient[y * outWidth + x]
                target[y0 * width + x0] += g * (1 - wy) * (1 - wx)
                target[y0 * width + x1] += g * (1 - wy) * wx
                target[y1 * width + x0] += g * wy * (1 - wx)
                target[y1 * width + x1] += g * wy * wx
            }
        }
    } }
}

public func bilinearTaps(input: Int, output: Int) -> [(Int, Int, Float)] {
    let scale = Float(input) / Float(output)
    return (0..<output).map { o in
        let source = max(0, (Float(o) + 0.5) * scale - 0.5)
        let i0 = min(Int(source), input - 1), i1 = min(i0 + 1, input - 1)
        return (i0, i1, source - Float(i0))
    }
}
