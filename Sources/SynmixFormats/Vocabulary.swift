import SynmixCore

/// A dataset split, as manifests and sample records name it (and Cityscapes' folders).
public enum Split: String, Sendable, CaseIterable, Comparable {
    case train, val, test

    public static func < (a: Split, b: Split) -> Bool { a.rawValue < b.rawValue }
}

/// Which splits a stage takes: one, or all of them (`--split all`).
public enum SplitSelection: String, Sendable, CaseIterable {
    case train, val, test, all

    public func includes(_ split: Split) -> Bool { self == .all || rawValue == split.rawValue }

    /// The splits selected, in `Split`'s order.
    public var splits: [Split] { Split.allCases.filter(includes) }
}

/// Where a record's pixels come from: photographs annotated by people, or a renderer.
public enum Domain: String, Sendable, CaseIterable, Comparable {
    case real, synthetic

    public static func < (a: Domain, b: Domain) -> Bool { a.rawValue < b.rawValue }
}

extension FieldReader {
    /// A string field that must be one of `T`'s raw values.
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, as type: T.Type = T.self) throws -> T where T.RawValue == String {
        let text = try string(key)
        guard let value = T(rawValue: text) else {
            throw fail("field '\(key)' is '\(text)', not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}
