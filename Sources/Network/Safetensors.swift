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

    /// Parses and validates a file: offsets contiguous from 0, sizes matching shapes, no trailing bytes.
    public static func parse(_ bytes: [UInt8]) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard bytes.count >= 8 else { throw FormatError(reason: "header too small") }
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard length <= 100_000_000 else { throw FormatError(reason: "header too large") }
        guard 8 + length <= bytes.count else { throw FormatError(reason: "invalid header length") }
        let header: JSON
        do { header = try JSON.parse(Array(bytes[8..<(8 + length)])) } catch { throw FormatError(reason: "header is not JSON: \(error)") }
        guard case .object(let fields) = header else { throw FormatError(reason: "header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in fields {
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { if value.isNull { continue }; throw FormatError(reason: "__metadata__ is not an object") }
                for (key, text) in pairs {
                    guard let string = text.stringValue else { throw FormatError(reason: "__metadata__.\(key) is not a string") }
                    metadata[key] = string
                }
                continue
            }
            guard let code = value["dtype"]?.stringValue, let dtype = DType(rawValue: code) else {
                throw FormatError(reason: "tensor \(name): unsupported or missing dtype")
            }
            guard let shape = value["shape"]?.arrayValue?.map({ $0.intValue ?? -1 }), shape.allSatisfy({ $0 >= 0 }),
                  let offsets = value["data_offsets"]?.arrayValue?.compactMap(\.intValue), offsets.count == 2 else {
                throw FormatError(reason: "tensor \(name): bad shape or data_offsets")
            }
            entries.append((name, dtype, shape, offsets[0], offsets[1]))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        var tensors: [String: Tensor] = [:]
        let dataStart = 8 + length
        for entry in entries {
            guard entry.begin == expected, entry.end >= entry.begin else { throw FormatError(reason: "invalid offset for tensor \(entry.name)") }
            guard entry.end - entry.begin == entry.shape.reduce(1, *) * entry.dtype.size else {
                throw FormatError(reason: "invalid shape, data type, or offset for tensor \(entry.name)")
            }
            guard dataStart + entry.end <= bytes.count else { throw FormatError(reason: "tensor \(entry.name) runs past the end of the file") }
            var tensor = Tensor([Float](), shape: [0])
            tensor.dtype = entry.dtype
            tensor.shape = entry.shape
            tensor.data = Array(bytes[(dataStart + entry.begin)..<(dataStart + entry.end)])
            tensors[entry.name] = tensor
            expected = entry.end
        }
        guard dataStart + expected == bytes.count else { throw FormatError(reason: "incomplete metadata, file not fully covered") }
        return (tensors, metadata)
    }
}
