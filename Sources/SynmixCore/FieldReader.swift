import Foundation

/// An error in a line of a JSON or JSON-lines file: the file, the line and the reason.
public struct ManifestError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int
    public var reason: String
    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }
    public var description: String { "\(file):\(line): \(reason)" }

    /// A skipped line as errors.jsonl lists it (FileError's fields and the line).
    public var json: JSON { .object([("file", .string(file)), ("line", .int(line)), ("reason", .string(reason))]) }
}

/// Typed access to a parsed JSON object with errors that name the field.
public struct FieldReader {
    public let value: JSON
    public let fail: (String) -> ManifestError

    public init(value: JSON, fail: @escaping (String) -> ManifestError) {
        self.value = value
        self.fail = fail
    }

    public func string(_ key: String) throws -> String {
        guard let text = value[key]?.stringValue else { throw fail("missing or non-string field '\(key)'") }
        return text
    }

    public func int(_ key: String) throws -> Int {
        guard let number = value[key]?.intValue else { throw fail("missing or non-integer field '\(key)'") }
        return number
    }

    public func optionalDouble(_ key: String) throws -> Double? {
        guard let raw = value[key] else { return nil }
        guard let number = raw.doubleValue else { throw fail("field '\(key)' is not a number") }
        return number
    }

    /// A share in [0, 1] (occlusion, truncation), if present.
    public func optionalFraction(_ key: String) throws -> Double? {
        guard let number = try optionalDouble(key) else { return nil }
        guard (0...1).contains(number) else { throw fail("field '\(key)' is \(number), outside [0, 1]") }
        return number
    }

    public func optionalDoubles(_ key: String) throws -> [Double]? {
        guard let raw = value[key] else { return nil }
        guard let numbers = raw.arrayValue?.compactMap(\.doubleValue), numbers.count == raw.arrayValue?.count else {
            throw fail("field '\(key)' is not an array of numbers")
        }
        return numbers
    }

    public func rle(_ key: String) throws -> RLE {
        guard let mask = value[key], let size = mask["size"]?.arrayValue?.compactMap(\.intValue), size.count == 2,
              let counts = mask["counts"]?.stringValue else {
            throw fail("field '\(key)' is not an RLE object {\"size\":[h,w],\"counts\":\"...\"}")
        }
        do {
            return try RLE(string: counts, height: size[0], width: size[1])
        } catch {
            throw fail("field '\(key)': \(error)")
        }
    }
}
