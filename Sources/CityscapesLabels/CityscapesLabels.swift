/// Cityscapes' label table, row for row as cityscapesScripts' `helpers/labels.py`
/// defines it, and the lookups derived from it (as labels.py derives its
/// `name2label`, `id2label`, …). The one place the table is written: the
/// readers, the evaluator and the generator all derive from it.
public struct CityscapesLabel: Sendable, Equatable {
    public var name: String
    public var id: Int
    public var trainId: Int
    public var category: String
    public var categoryId: Int
    public var hasInstances: Bool
    public var ignoreInEval: Bool
    public var color: [UInt8]   // RGB

    // The same column order as labels.py's namedtuple.
    init(_ name: String, _ id: Int, _ trainId: Int, _ category: String, _ categoryId: Int,
         _ hasInstances: Bool, _ ignoreInEval: Bool, _ color: [UInt8]) {
        self.name = name
        self.id = id
        self.trainId = trainId
        self.category = category
        self.categoryId = categoryId
        self.hasInstances = hasInstances
        self.ignoreInEval = ignoreInEval
        self.color = color
    }

    public static let all: [CityscapesLabel] = [
        //    name                     id  trainId category        catId  instances ignoreInEval color
        .init("unlabeled",              0, 255, "void",         0, false, true,  [0, 0, 0]),
        .init("ego vehicle",            1, 255, "void",         0, false, true,  [0, 0, 0]),
        .init("rectification border",   2, 255, "void",         0, false, true,  [0, 0, 0]),
        .init("out of roi",             3, 255, "void",         0, false, true,  [0, 0, 0]),
        .init("static",                 4, 255, "void",         0, false, true,  [0, 0, 0]),
        .init("dynamic",                5, 255, "void",         0, false, true,  [111, 74, 0]),
        .init("ground",                 6, 255, "void",         0, false, true,  [81, 0, 81]),
        .init("road",                   7,   0, "flat",         1, false, false, [128, 64, 128]),
        .init("sidewalk",               8,   1, "flat",         1, false, false, [244, 35, 232]),
        .init("parking",                9, 255, "flat",         1, false, true,  [250, 170, 160]),
        .init("rail track",            10, 255, "flat",         1, false, true,  [230, 150, 140]),
        .init("building",              11,   2, "construction", 2, false, false, [70, 70, 70]),
        .init("wall",                  12,   3, "construction", 2, false, false, [102, 102, 156]),
        .init("fence",                 13,   4, "construction", 2, false, false, [190, 153, 153]),
        .init("guard rail",            14, 255, "construction", 2, false, true,  [180, 165, 180]),
        .init("bridge",                15, 255, "construction", 2, false, true,  [150, 100, 100]),
        .init("tunnel",                16, 255, "construction", 2, false, true,  [150, 120, 90]),
        .init("pole",                  17,   5, "object",       3, false, false, [153, 153, 153]),
        .init("polegroup",             18, 255, "object",       3, false, true,  [153, 153, 153]),
        .init("traffic light",         19,   6, "object",       3, false, false, [250, 170, 30]),
        .init("traffic sign",          20,   7, "object",       3, false, false, [220, 220, 0]),
        .init("vegetation",            21,   8, "nature",       4, false, false, [107, 142, 35]),
        .init("terrain",               22,   9, "nature",       4, false, false, [152, 251, 152]),
        .init("sky",                   23,  10, "sky",          5, false, false, [70, 130, 180]),
        .init("person",                24,  11, "human",        6, true,  false, [220, 20, 60]),
        .init("rider",                 25,  12, "human",        6, true,  false, [255, 0, 0]),
        .init("car",                   26,  13, "vehicle",      7, true,  false, [0, 0, 142]),
        .init("truck",                 27,  14, "vehicle",      7, true,  false, [0, 0, 70]),
        .init("bus",                   28,  15, "vehicle",      7, true,  false, [0, 60, 100]),
        .init("caravan",               29, 255, "vehicle",      7, true,  true,  [0, 0, 90]),
        .init("trailer",               30, 255, "vehicle",      7, true,  true,  [0, 0, 110]),
        .init("train",                 31,  16, "vehicle",      7, true,  false, [0, 80, 100]),
        .init("motorcycle",            32,  17, "vehicle",      7, true,  false, [0, 0, 230]),
        .init("bicycle",               33,  18, "vehicle",      7, true,  false, [119, 11, 32]),
        .init("license plate",         -1,  -1, "vehicle",      7, false, true,  [0, 0, 142]),
    ]

    /// labels.py's `id2label`.
    public static let byId: [Int: CityscapesLabel] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    /// The ids a label PNG can hold (the license plate, -1, is never drawn).
    public static let pixelIds: [Int] = all.map(\.id).filter { $0 >= 0 }

    /// The classes the instance evaluation scores, in table order (labels.py: hasInstances and not ignoreInEval).
    public static let evaluated: [CityscapesLabel] = all.filter { $0.hasInstances && !$0.ignoreInEval }

    /// The labels whose pixels can carry instance ids (`id * 1000 + k`).
    public static let instanceIds: [Int] = all.filter(\.hasInstances).map(\.id)
}
