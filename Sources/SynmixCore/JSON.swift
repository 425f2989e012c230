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
        var out = ""
        write(to: &out, indent: nil, depth: 0)
        return out
    }

    /// Indented with two spaces (summaries and reports people read).
    public var pretty: String {
        var out = ""
        write(to: &out, indent: "  ", depth: 0)
        return out + "\n"
    }

    private func write(to out: inout String, indent: String?, depth: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value):
            // Shortest representation that round-trips; JSON has no NaN or Infinity.
            precondition(value.isFinite, "JSON cannot hold \(value)")
            out += value.description
        case .string(let value): JSON.writeString(value, to: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            // Arrays of scalars stay on one line even when pretty: boxes, sizes, colours.
            let inline = indent == nil || items.allSatisfy { !$0.isContainer }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += inline && indent != nil ? ", " : "," }
                if !inline { JSON.newline(&out, indent, depth + 1) }
                item.write(to: &out, indent: indent, depth: depth + 1)
            }
            if !inline { JSON.newline(&out, indent, depth) }
            out += "]"
        case .object(let fields):
            if fields.isEmpty { out += "{}"; return }
            // Small objects of scalars (a row of counts) stay on one line even when pretty.
            let inline = indent != nil && fields.count <= 4 && fields.allSatisfy { !$0.1.isContainer }
            out += "{"
            for (index, (key, value)) in fields.enumerated() {
                if index > 0 { out += inline ? ", " : "," }
                if !inline { JSON.newline(&out, indent, depth + 1) }
                JSON.writeString(key, to: &out)
                out += indent == nil ? ":" : ": "
                value.write(to: &out, indent: indent, depth: depth + 1)
            }
            if !inline { JSON.newline(&out, indent, depth) }
            out += "}"
        }
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }

    private static func newline(_ out: inout String, _ indent: String?, _ depth: Int) {
        guard let indent else { return }
        out += "\n"
        for _ in 0..<depth { out += indent }
    }

    private static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension RLE {
    /// `{"size":[h,w],"counts":"..."}`, the COCO compressed form.
    public var json: JSON {
        .object([("size", .array([.int(height), .int(width)])), ("counts", .string(string))])
    }
}
