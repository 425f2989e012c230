import Foundation
import SynmixCore
import SynmixFormats

/// The demo benchmark's settings besides its looks (Appearance.demoReal/demoSynthetic),
/// shared by `synmix-generate --look demo` and `make demo`.
public enum DemoLook {
    /// People and two-wheelers (with their riders) this much larger, so that they can be
    /// learned at the demo's 192×96 input (the prototype enlarged them ×1.75; at 1.8 the
    /// two-wheelers' sub-types and views scored 0–4 AP).
    public static let smallClassScale = 2.1
    /// Every object this much larger than the camera makes it (at the demo's 256×128
    /// input, a far truck is otherwise a few pixels).
    public static let objectScale = 1.25
    /// Road users per frame besides the required ones (a set may ask for more: the demo's synthetic train frames).
    public static let objects = 5...11

    /// The real set's annotators leave unlabelled what they can hardly see: less than
    /// 1/800 of the frame visible, or less than 30 % of the object.
    public static func policy(width: Int, height: Int) -> AnnotatorPolicy {
        AnnotatorPolicy(minVisiblePixels: width * height / 800, minVisibleFraction: 0.3)
    }

    /// How often each kind of road user appears in a generated set.
    public enum ClassMix: String, Sendable, CaseIterable {
        /// As often as in Cityscapes' fine train annotations (instances per class, rounded: car
        /// 26 900, person 17 900, bicycle riders 1 300, motorcycle riders 500, truck 480, bus 380,
        /// train 170): what Synscapes' scene generator imitates.
        case cityscapes
        /// Cityscapes' frequencies with the tail squared: cars and people everywhere, and so few
        /// of the other classes that a 100-frame set holds each about once. (With Cityscapes' own
        /// tail 100 frames hold 3–25 of each, and the demo's network learns a class from that
        /// few given enough steps: the real set would be compute-limited, not data-limited.)
        case longTail = "long-tail"
        /// Every class equally often: what a renderer does when asked, and what a val set
        /// needs so that every class's AP rests on many instances (as in ImageNet-LT).
        case balanced
        /// Cars and people three times as often as each other class, every other class equally
        /// often: a synthetic set that leads with Cityscapes' head, as Synscapes' scenes do, and
        /// keeps a tail a small set can learn from (the demo's synthetic train set, with more
        /// objects per frame than `balanced` so that each other class appears as often per frame).
        case carsAndPeople = "cars-and-people"
        /// The generator's general-purpose mix (fixtures, benchmarks).
        case street

        public var weights: [(metaClass: Int, weight: Double)] {
            switch self {
            case .cityscapes: [(Labels.car, 26_900), (Labels.person, 17_900), (Labels.bicycle, 1_300), (Labels.motorcycle, 500), (Labels.truck, 480), (Labels.bus, 380), (Labels.train, 170)]
            case .longTail: Self.cityscapes.weights.map { ($0, $1 * $1 / 26_900) }
            case .balanced: [Labels.car, Labels.person, Labels.bicycle, Labels.motorcycle, Labels.truck, Labels.bus, Labels.train].map { ($0, 1) }
            case .carsAndPeople: Self.balanced.weights.map { ($0.metaClass, [Labels.car, Labels.person].contains($0.metaClass) ? 3 : 1) }
            case .street: StreetSceneBuilder.defaultClassWeights
            }
        }

        /// The mix in a few words (the demo's report and `synmix-generate --help` quote it).
        public var summary: String {
            switch self {
            case .cityscapes: "Cityscapes' frequencies: cars and people, then a tail of two-wheelers, trucks, buses and trains"
            case .longTail: "Cityscapes' frequencies with the tail squared: cars and people everywhere, every other class rare"
            case .balanced: "every class equally often"
            case .carsAndPeople: "three times as many cars and as many people as each other class"
            case .street: "the generator's general-purpose mix"
            }
        }
    }

    /// The scene builder of the demo's frames: people and two-wheelers enlarged, every road user
    /// drawn from its sub-types and views, as often as `classes` says.
    public static func builder(width: Int, height: Int, classes: ClassMix, objects: ClosedRange<Int> = objects) -> StreetSceneBuilder {
        var builder = StreetSceneBuilder(width: width, height: height, extraObjects: objects)
        builder.smallClassScale = smallClassScale
        builder.objectScale = objectScale
        builder.variety = true
        builder.classWeights = classes.weights
        return builder
    }
}

/// Generates whole datasets in the two original layouts.
/// What `synmix-generate cityscapes|synscapes` writes unless told otherwise.
public struct GenerateSettings: Sendable {
    /// fixture: flat colours (the committed test fixtures); demo: the benchmark's textured, blurred, noisy looks.
    public enum Look: String, Sendable, CaseIterable { case fixture, demo }
    public var look = Look.fixture
    public var seed: UInt64 = 1
    /// zlib level of the PNGs.
    public var pngLevel = 6
    /// Per-pixel sensor noise of the fixture look (standard deviation in 8-bit levels).
    public var noise = 0.0
    /// The demo look's distance between the domains' appearances (0...1).
    public var gap = 0.2
    public var extraObjects = StreetSceneBuilder.defaultExtraObjects
    /// Cityscapes' and Synscapes' own frame sizes.
    public var cityscapesSize = (width: 2048, height: 1024), synscapesSize = (width: 1440, height: 720)
    public var split = Split.train
    public var city = "synthcity"

    public static let defaults = GenerateSettings()
}

public enum DatasetGenerator {
    /// The void regions every real frame has: the ego vehicle's hood and the
    /// rectification border's corners.
    static func realOverlays(width: Int, height: Int) -> [Region] {
        let w = Double(width), h = Double(height)
        var hood: [Point] = [Point(0, h), Point(w, h)]
        for k in 0...16 {   // a shallow arc
            let t = 1 - Double(k) / 16, x = w * t
            hood.append(Point(x, h * (0.94 + 0.04 * pow(2 * t - 1, 2))))
        }
        return [Region(labelId: Labels.egoVehicle, polygon: hood),
                Region(labelId: Labels.rectificationBorder, polygon: [Point(0, 0), Point(w * 0.02, 0), Point(0, h * 0.04)]),
                Region(labelId: Labels.rectificationBorder, polygon: [Point(w, 0), Point(w * 0.98, 0), Point(w, h * 0.04)])]
    }

    /// A Cityscapes-layout dataset of `count` random frames from `builder` in one split/city.
    public static func cityscapes(root: String, count: Int, builder: StreetSceneBuilder, split: Split, city: String,
                                  seed: UInt64, appearance: Appearance, policy: AnnotatorPolicy? = nil,
                                  pngLevel: Int, jobs: Int) throws {
        let (width, height) = (builder.width, builder.height)
        var configured = CityscapesWriter(root: root, appearance: appearance,
                                          policy: policy ?? AnnotatorPolicy(minVisiblePixels: width * height / 20_000, minVisibleFraction: 0.15))
        configured.pngLevel = pngLevel
        let writer = configured
        try forEachParallel(count, jobs: jobs) { frame in
            var scene = builder.build(seed: Seed.derive(seed, "scene", UInt64(frame)))
            scene.overlays = realOverlays(width: width, height: height)
            try writer.write(scene, split: split, city: city, sequence: frame / 100, frame: frame % 100 * 19, seed: Seed.derive(seed, "rendering", UInt64(frame)))
        }
    }

    /// A Synscapes-layout dataset of frames `first ..< first + count` from `builder`.
    public static func synscapes(root: String, first: Int = 1, count: Int, builder: StreetSceneBuilder, seed: UInt64,
                                 appearance: Appearance, pngLevel: Int, jobs: Int) throws {
        var configured = SynscapesWriter(root: root, appearance: appearance)
        configured.pngLevel = pngLevel
        let writer = configured
        try forEachParallel(count, jobs: jobs) { index in
            let number = first + index
            try writer.write(synscapesScene(number: number, builder: builder, seed: seed), number: number, seed: Seed.derive(seed, "rendering", UInt64(number)))
        }
    }

    /// The scene of Synscapes-layout frame `number` (what `synscapes` renders; the demo counts its variety from it).
    public static func synscapesScene(number: Int, builder: StreetSceneBuilder, seed: UInt64) -> Scene {
        builder.build(seed: Seed.derive(seed, "scene", UInt64(number)))
    }

    /// Runs `body` for 0..<count on `jobs` threads; the first error (in index order) is thrown.
    static func forEachParallel(_ count: Int, jobs: Int, _ body: @Sendable (Int) throws -> Void) throws {
        let failures = parallelMap(Array(0..<count), jobs: max(1, jobs)) { index -> FailureBox? in
            do { try body(index); return nil } catch { return FailureBox(error: error) }
        }
        if let first = failures.compactMap({ $0 }).first { throw first.error }
    }
}

/// Carries an error out of a worker (`any Error` is not Sendable).
private struct FailureBox: @unchecked Sendable {
    let error: Error
}
