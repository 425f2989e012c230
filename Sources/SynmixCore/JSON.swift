/// A JSON value whose objects keep their key order, so that every file synmix
/// writes has the exact, documented layout and is byte-identical across runs.
public indirect enum JSON: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// Compact form: no spaces (manifest lines, shard samples).
    public var compact: String {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(to: &out, indent: nil, depth: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// Indented with two spaces (summaries and reports people read).
    public var pretty: String {
        var out: [UInt8] = []
        write(to: &out, indent: "  ", depth: 0)
        return String(decoding: out, as: UTF8.self) + "\n"
    }

    // Written as UTF-8 bytes: appending to a String scalar by scalar was the
    // largest cost of writing a manifest line.
    private func write(to out: inout [UInt8], indent: String?, depth: Int) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let value): out += (value ? "true" : "false").utf8
        case .int(let value): out += String(value).utf8
        case .double(let value):
            // Shortest representation that round-trips; JSON has no NaN or Infinity.
            precondition(value.isFinite, "JSON cannot hold \(value)")
            out += value.description.utf8
        case .string(let value): JSON.writeString(value, to: &out)
        case .array(let items):
            if items.isEmpty { out += "[]".utf8; return }
            // Arrays of scalars stay on one line even when pretty: boxes, sizes, colours.
            let inline = indent == nil || items.allSatisfy { !$0.isContainer }
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out += (inline && indent != nil ? ", " : ",").utf8 }
                if !inline { JSON.newline(&out, indent, depth + 1) }
                item.write(to: &out, indent: indent, depth: depth + 1)
            }
            if !inline { JSON.newline(&out, indent, depth) }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            if fields.isEmpty { out += "{}".utf8; return }
            // Small objects of scalars (a row of counts) stay on one line even when pretty.
            let inline = indent != nil && fields.count <= 4 && fields.allSatisfy { !$0.1.isContainer }
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in fields.enumerated() {
                if index > 0 { out += (inline ? ", " : ",").utf8 }
                if !inline { JSON.newline(&out, indent, depth + 1) }
                JSON.writeString(key, to: &out)
                out += (indent == nil ? ":" : ": ").utf8
                value.write(to: &out, indent: indent, depth: depth + 1)
            }
            if !inline { JSON.newline(&out, indent, depth) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }

    private static func newline(_ out: inout [UInt8], _ indent: String?, _ depth: Int) {
        guard let indent else { return }
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<depth { out += indent.utf8 }
    }

    private static func writeString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            for (index, byte) in bytes.enumerated() where byte == 0x22 || byte == 0x5C || byte < 0x20 {
                out.append(contentsOf: bytes[start..<index])
                switch byte {
                case 0x22: out += "\\\"".utf8
                case 0x5C: out += "\\\\".utf8
                case 0x0A: out += "\\n".utf8
                case 0x0D: out += "\\r".utf8
                case 0x09: out += "\\t".utf8
                default:
                    let hex = String(byte, radix: 16)
                    out += ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8
                }
                start = index + 1
            }
            out.append(contentsOf: bytes[start..<bytes.count])
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension RLE {
    /// `{"size":[h,w],"counts":"..."}`, the COCO compressed form.
    public var json: JSON {
        .object([("size", .array([.int(height), .int(width)])), ("counts", .string(string))])
    }
}
