import SynmixCore

/// Checkpoints as `.safetensors` (huggingface/safetensors' format; docs/formats.md): u64 LE header
/// length, a compact JSON header padded with spaces to a multiple of 8, then the
/// tensors back to back, little-endian, row-major. Tensors are laid out as the
/// reference writer does (dtype in its declaration order, descending; then name),
/// so our files are byte-identical to `safetensors.numpy.save` for one metadata key.
public enum Safetensors {
    public enum DType: String, Sendable {
        case f32 = "F32"
        case i64 = "I64"
        var size: Int { self == .f32 ? 4 : 8 }
        /// Position in the reference writer's order (larger first).
        var rank: Int { self == .i64 ? 1 : 0 }
    }

    public struct Tensor: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        public var data: [UInt8]   // little-endian

        public init(_ values: [Float], shape: [Int]) {
            precondition(values.count == shape.reduce(1, *), "shape \(shape) does not hold \(values.count) values")
            dtype = .f32
            self.shape = shape
            data = values.withUnsafeBytes { Array($0) }   // x86-64 and arm64 are little-endian
        }

        public init(_ values: [Int64], shape: [Int]) {
            precondition(values.count == shape.reduce(1, *), "shape \(shape) does not hold \(values.count) values")
            dtype = .i64
            self.shape = shape
            data = values.withUnsafeBytes { Array($0) }
        }

        public var floats: [Float] {
            data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
    }

    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public var reason: String
        public var description: String { "invalid safetensors file: \(reason)" }
    }

    public static func serialize(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> [UInt8] {
        let names = tensors.keys.sorted { a, b in
            let (ta, tb) = (tensors[a]!, tensors[b]!)
            return ta.dtype.rank != tb.dtype.rank ? ta.dtype.rank > tb.dtype.rank : a < b
        }
        var fields: [(String, JSON)] = []
        if !metadata.isEmpty {
            fields.append(("__metadata__", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) })))
        }
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            fields.append((name, .object([("dtype", .string(tensor.dtype.rawValue)), ("shape", .array(tensor.shape.map { .int($0) })),
                                          ("data_offsets", .array([.int(offset), .int(offset + tensor.data.count)]))])))
            offset += tensor.data.count
        }
        var header = Array(JSON.object(fields).compact.utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var out = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        out += header
        for name in names { out += tensors[name]!.data }
        return out
    }

    /// The largest header a reader accepts (the reference implementation's own limit, 100 MB): the
    /// header is read and parsed whole, so its declared length is checked before anything else.
    public static let maxHeaderLength = 100_000_000

    /// Parses and validates a file: offsets contiguous from 0 (so none overlaps another or lies outside
    /// the data), sizes matching shapes and dtypes, each name once, no trailing bytes. Every size is
    /// checked with overflow-reporting arithmetic: the header is someone else's, and a shape whose
    /// product overflows must be an error, not a trap.
    public static func parse(_ bytes: [UInt8]) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard bytes.count >= 8 else { throw FormatError(reason: "header too small") }   // the reference implementation's wording
        let declared = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard declared <= UInt64(maxHeaderLength) else {
            throw FormatError(reason: "header length \(declared) is more than the \(maxHeaderLength) bytes a header may have")
        }
        let length = Int(declared)
        guard length >= 2 else { throw FormatError(reason: "header length \(length) is too small for a JSON object") }
        guard 8 + length <= bytes.count else {
            throw FormatError(reason: "header length \(length) runs past the end of the \(bytes.count)-byte file (truncated?)")
        }
        let header: JSON
        do { header = try JSON.parse(Array(bytes[8..<(8 + length)])) } catch { throw FormatError(reason: "header is not JSON: \(error)") }
        guard case .object(let fields) = header else { throw FormatError(reason: "header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        var names: Set<String> = []
        let dataLength = bytes.count - 8 - length
        for (name, value) in fields {
            guard names.insert(name).inserted else { throw FormatError(reason: "\(name) appears twice in the header") }
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { if value.isNull { continue }; throw FormatError(reason: "__metadata__ is not an object") }
                for (key, text) in pairs {
                    guard let string = text.stringValue else { throw FormatError(reason: "__metadata__.\(key) is not a string") }
                    metadata[key] = string
                }
                continue
            }
            guard let code = value["dtype"]?.stringValue else { throw FormatError(reason: "tensor \(name): no dtype") }
            guard let dtype = DType(rawValue: code) else {
                throw FormatError(reason: "tensor \(name): dtype \(code) is not one of F32, I64")
            }
            guard let shape = value["shape"]?.arrayValue?.map({ $0.intValue ?? -1 }), shape.allSatisfy({ $0 >= 0 }) else {
                throw FormatError(reason: "tensor \(name): shape is not a list of integers >= 0")
            }
            guard let offsets = value["data_offsets"]?.arrayValue?.map({ $0.intValue ?? -1 }), offsets.count == 2,
                  offsets[0] >= 0, offsets[1] >= 0 else {
                throw FormatError(reason: "tensor \(name): data_offsets is not [begin, end] of integers >= 0")
            }
            guard offsets[0] <= offsets[1], offsets[1] <= dataLength else {
                throw FormatError(reason: "tensor \(name): data_offsets \(offsets) lie outside the \(dataLength) bytes of data")
            }
            var byteCount = dtype.size
            for side in shape {
                let (product, overflow) = byteCount.multipliedReportingOverflow(by: side)
                guard !overflow else { throw FormatError(reason: "tensor \(name): shape \(shape) holds more elements than an integer counts") }
                byteCount = product
            }
            guard offsets[1] - offsets[0] == byteCount else {
                throw FormatError(reason: "tensor \(name): \(code) \(shape) takes \(byteCount) bytes, data_offsets give \(offsets[1] - offsets[0])")
            }
            entries.append((name, dtype, shape, offsets[0], offsets[1]))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        var tensors: [String: Tensor] = [:]
        let dataStart = 8 + length
        for entry in entries {
            guard entry.begin == expected else {
                throw FormatError(reason: "tensor \(entry.name) starts at \(entry.begin), not at \(expected) where the one before it ends (overlap or gap)")
            }
            var tensor = Tensor([Float](), shape: [0])
            tensor.dtype = entry.dtype
            tensor.shape = entry.shape
            tensor.data = Array(bytes[(dataStart + entry.begin)..<(dataStart + entry.end)])
            tensors[entry.name] = tensor
            expected = entry.end
        }
        guard expected == dataLength else {
            // The reference implementation's wording.
            throw FormatError(reason: "incomplete metadata, file not fully covered")
        }
        return (tensors, metadata)
    }
}
