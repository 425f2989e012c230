/// A binary mask as COCO run-length encoding, exactly as pycocotools' maskApi.c
/// defines it: column-major pixel order, runs alternating background /
/// foreground starting with background (the first run may be 0).
///
/// Only canonical RLE exists in synmix (no interior zero-length runs, counts
/// summing to height × width): pycocotools misbehaves on anything else
/// (pycocotools' maskApi.c rleEncode never writes one), so the initialisers
/// that take outside data validate.
public struct RLE: Hashable, Sendable {
    public let height: Int
    public let width: Int
    public let counts: [UInt32]

    /// Trusted constructor for counts produced by this module's own encoders.
    init(canonical counts: [UInt32], height: Int, width: Int) {
        self.height = height
        self.width = width
        self.counts = counts
    }

    /// Validates `counts` (canonical, summing to height × width).
    public init(counts: [UInt32], height: Int, width: Int) throws {
        guard height >= 0, width >= 0 else { throw RLEError.invalid("negative size [\(height), \(width)]") }
        // Counts are 32-bit (as in pycocotools): a larger mask cannot be represented.
        guard height <= Int(UInt32.max), width <= Int(UInt32.max), height * width <= Int(UInt32.max) else {
            throw RLEError.invalid("size [\(height), \(width)] exceeds 2³² − 1 pixels")
        }
        guard !counts.isEmpty else { throw RLEError.invalid("no counts") }
        var total = 0
        for (index, count) in counts.enumerated() {
            if index > 0 && count == 0 {
                throw RLEError.invalid("zero-length run at index \(index) (non-canonical RLE)")
            }
            total += Int(count)
        }
        guard total == height * width else {
            throw RLEError.invalid("runs cover \(total) pixels, size [\(height), \(width)] has \(height * width)")
        }
        self.init(canonical: counts, height: height, width: width)
    }

    public static func empty(height: Int, width: Int) -> RLE {
        RLE(canonical: [UInt32(height * width)], height: height, width: width)
    }

    public var isEmpty: Bool { counts.count < 2 }

    // MARK: Pixels

    /// Encodes a row-major mask (nonzero = foreground), through the same
    /// run-boundary pass RegionEncoder uses for label images.
    public static func encode(mask: [UInt8], height: Int, width: Int) -> RLE {
        precondition(mask.count == height * width, "mask has \(mask.count) pixels, expected \(height * width)")
        return mask.withUnsafeBufferPointer { RegionEncoder.nonzero($0, height: height, width: width) }
    }

    /// The mask as row-major 0/1 bytes.
    public func decode() -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: height * width)
        forEachForegroundPixel { mask[$0] = 1 }
        return mask
    }

    /// Calls `body` with the row-major index (y·width + x) of every foreground pixel:
    /// how a mask is painted into a label map. Inlinable, so the per-pixel call is free.
    @inlinable
    public func forEachForegroundPixel(_ body: (Int) -> Void) {
        let (height, width) = (self.height, self.width)
        forEachForegroundRun { start, length in
            for position in start..<(start + length) { body((position % height) * width + position / height) }
        }
    }

    /// Calls `body(start, length)` for every foreground run, in column-major positions.
    public func forEachForegroundRun(_ body: (Int, Int) -> Void) {
        var position = 0
        for (index, count) in counts.enumerated() {
            if index & 1 == 1 && count > 0 { body(position, Int(count)) }
            position += Int(count)
        }
    }

    // MARK: Measures

    public var area: Int {
        var sum = 0
        var index = 1
        while index < counts.count { sum += Int(counts[index]); index += 2 }
        return sum
    }

    /// pycocotools `toBbox`: `[x, y, w, h]` of the tight pixel box; `[0,0,0,0]` when empty.
    public var bbox: [Int] {
        let runs = (counts.count / 2) * 2
        guard runs > 0, height > 0 else { return [0, 0, 0, 0] }
        var xs = width, ys = height, xe = 0, ye = 0
        var cursor = 0
        for index in 0..<runs {
            let start = cursor
            cursor += Int(counts[index])
            if index & 1 == 0 || counts[index] == 0 { continue }
            let y0 = start % height, x0 = start / height
            let y1 = (cursor - 1) % height, x1 = (cursor - 1) / height
            xs = min(xs, x0)
            xe = max(xe, x1)
            if x0 < x1 {
                ys = 0
                ye = height - 1
            } else {
                ys = min(ys, y0)
                ye = max(ye, y1)
            }
        }
        return [xs, ys, xe - xs + 1, ye - ys + 1]
    }

    // MARK: Compressed string (maskApi.c rleToString / rleFrString)

    public var string: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(counts.count * 2)
        for index in counts.indices {
            var x = Int64(counts[index])
            if index > 2 { x -= Int64(counts[index - 2]) }
            var more = true
            while more {
                var c = UInt8(truncatingIfNeeded: x & 0x1f)
                x >>= 5
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                bytes.append(c + 48)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses a compressed counts string; rejects characters outside the
    /// codec's alphabet and non-canonical or wrongly sized results.
    public init(string: String, height: Int, width: Int) throws {
        var counts: [UInt32] = []
        var iterator = string.utf8.makeIterator()
        while var byte = iterator.next() {
            var x: Int64 = 0
            var shift: Int64 = 0
            while true {
                guard byte >= 48 && byte < 48 + 64 else {
                    throw RLEError.invalid("character \(UnicodeScalar(byte).escaped(asASCII: true)) is not in the RLE alphabet")
                }
                let c = Int64(byte - 48)
                x |= (c & 0x1f) << shift
                shift += 5
                if c & 0x20 == 0 {
                    if c & 0x10 != 0 { x |= -1 << shift }
                    break
                }
                guard shift < 60, let next = iterator.next() else {
                    throw RLEError.invalid("counts string ends inside a number")
                }
                byte = next
            }
            if counts.count > 2 { x += Int64(counts[counts.count - 2]) }
            guard x >= 0 && x <= Int64(UInt32.max) else {
                throw RLEError.invalid("run length \(x) out of range")
            }
            counts.append(UInt32(x))
        }
        try self.init(counts: counts, height: height, width: width)
    }

    // MARK: Set operations

    /// Union of masks of one size (pycocotools `merge(..., intersect=0)`).
    public static func union(_ masks: [RLE], height: Int, width: Int) -> RLE {
        masks.reduce(RLE.empty(height: height, width: width)) { combine($0, $1) { $0 || $1 } }
    }

    public func union(_ other: RLE) -> RLE { RLE.combine(self, other) { $0 || $1 } }
    public func intersection(_ other: RLE) -> RLE { RLE.combine(self, other) { $0 && $1 } }
    /// Pixels of `self` that are not in `other`.
    public func subtracting(_ other: RLE) -> RLE { RLE.combine(self, other) { $0 && !$1 } }

    /// Number of pixels in both masks, from the run lists alone.
    public func intersectionArea(_ other: RLE) -> Int {
        var shared = 0
        RLE.walk(self, other) { inSelf, inOther, length in if inSelf && inOther { shared += length } }
        return shared
    }

    /// pycocotools `iou` for one pair: masks whose boxes do not overlap score 0;
    /// against a crowd ground truth the union is the detection's own area.
    public static func iou(detection: RLE, groundTruth: RLE, groundTruthIsCrowd: Bool) -> Double {
        guard detection.height == groundTruth.height, detection.width == groundTruth.width else { return -1 }
        let d = detection.bbox, g = groundTruth.bbox
        let overlapWidth = min(d[0] + d[2], g[0] + g[2]) - max(d[0], g[0])
        let overlapHeight = min(d[1] + d[3], g[1] + g[3]) - max(d[1], g[1])
        guard overlapWidth > 0, overlapHeight > 0 else { return 0 }
        let intersection = detection.intersectionArea(groundTruth)
        guard intersection > 0 else { return 0 }
        let union = groundTruthIsCrowd ? detection.area : detection.area + groundTruth.area - intersection
        return Double(intersection) / Double(union)
    }

    private static func combine(_ a: RLE, _ b: RLE, _ keep: (Bool, Bool) -> Bool) -> RLE {
        precondition(a.height == b.height && a.width == b.width,
                     "RLE sizes differ: [\(a.height), \(a.width)] vs [\(b.height), \(b.width)]")
        var counts: [UInt32] = []
        var current = false
        var run = 0
        walk(a, b) { inA, inB, length in
            let on = keep(inA, inB)
            if on != current {
                counts.append(UInt32(run))
                run = 0
                current = on
            }
            run += length
        }
        counts.append(UInt32(run))
        return RLE(canonical: counts, height: a.height, width: a.width)
    }

    /// Visits the pieces on which both masks are constant, in pixel order.
    private static func walk(_ a: RLE, _ b: RLE, _ body: (Bool, Bool, Int) -> Void) {
        var ia = 0, ib = 0
        var leftA = Int(a.counts[0]), leftB = Int(b.counts[0])
        var total = a.height * a.width
        while total > 0 {
            while leftA == 0 { ia += 1; leftA = Int(a.counts[ia]) }
            while leftB == 0 { ib += 1; leftB = Int(b.counts[ib]) }
            let step = min(leftA, leftB)
            body(ia & 1 == 1, ib & 1 == 1, step)
            leftA -= step
            leftB -= step
            total -= step
        }
    }
}

public enum RLEError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String { "invalid RLE: " + { if case .invalid(let r) = self { return r } else { return "" } }() }
}
