/// The structured values the executables take on the command line, each parsed
/// by one rule (`LosslessStringConvertible`, so swift-argument-parser reads them
/// directly and prints them back as they were written).

/// `WxH` in pixels, both positive (`512x256`; `X` also accepted).
public struct PixelSize: Sendable, Equatable, LosslessStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public init?(_ text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width > 0, height > 0 else { return nil }
        self.init(width: width, height: height)
    }

    public var description: String { "\(width)x\(height)" }
}

/// `NAME=VALUE` with a non-empty name; the value is everything after the first `=`.
public struct NamedValue: Sendable, Equatable, LosslessStringConvertible {
    public var name: String
    public var value: String

    public init?(_ text: String) {
        guard let equal = text.firstIndex(of: "="), equal != text.startIndex else { return nil }
        name = String(text[..<equal])
        value = String(text[text.index(after: equal)...])
    }

    public var description: String { "\(name)=\(value)" }
}

/// `I/N`: part I (1-based) of N.
/// `MIN-MAX`, whole numbers with 0 <= MIN <= MAX (`--objects 4-10`).
public struct CountRange: Sendable, Equatable, LosslessStringConvertible {
    public var range: ClosedRange<Int>

    public init(_ range: ClosedRange<Int>) { self.range = range }

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), low >= 0, low <= high else { return nil }
        range = low...high
    }

    public var description: String { "\(range.lowerBound)-\(range.upperBound)" }
}

public struct Partition: Sendable, Equatable, LosslessStringConvertible {
    public var index: Int
    public var count: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, (1...count).contains(index) else {
            return nil
        }
        (self.index, self.count) = (index, count)
    }

    public var description: String { "\(index)/\(count)" }
}
