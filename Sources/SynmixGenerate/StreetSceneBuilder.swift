import Foundation
import SynmixCore

/// Builds random street scenes with a simple pinhole camera: a horizon line,
/// road and sidewalks below it, buildings, vegetation and sky above, and
/// objects standing on the ground, smaller towards the horizon.
public struct StreetSceneBuilder: Sendable {
    public var width: Int
    public var height: Int
    /// Objects per scene, besides the ones `required` asks for.
    /// How many objects beyond the guaranteed ones a scene draws, unless told otherwise.
    public static let defaultExtraObjects = 4...10
    public var extraObjects: ClosedRange<Int> = defaultExtraObjects
    /// Meta classes placed once in every scene (coverage for fixtures and tests).
    public var required: [Int] = []
    /// Scale every object's size by this (larger makes small classes learnable at low resolution).
    public var objectScale = 1.0
    /// And people and two-wheelers (with their riders) by this on top.
    public var smallClassScale = 1.0
    /// Meta classes of the random objects, with relative weights: how often each kind of
    /// road user appears (a long tail in a real dataset, as often as asked in a renderer's).
    public var classWeights: [(metaClass: Int, weight: Double)] = Self.defaultClassWeights
    /// Draw every road user from its class's sub-types and views (`RoadUsers`), at a varied
    /// scale and anywhere across the road, truncated at the border too: a world whose variety
    /// a few frames do not cover, with the windows, wheels and heads that tell the classes apart by
    /// shape. Without it, one plain outline per class (the committed fixtures).
    public var variety = false

    public static let defaultClassWeights: [(metaClass: Int, weight: Double)] = [
        (Labels.car, 0.41), (Labels.person, 0.28), (Labels.bicycle, 0.08), (Labels.truck, 0.05), (Labels.bus, 0.05), (Labels.motorcycle, 0.05), (Labels.train, 0.03), (Labels.caravan, 0.03), (Labels.trailer, 0.02),
    ]

    static let cameraHeight = 1.3     // metres
    static let horizonFraction = 0.42

    public init(width: Int, height: Int, extraObjects: ClosedRange<Int> = defaultExtraObjects) {
        self.width = width
        self.height = height
        self.extraObjects = extraObjects
    }

    var horizon: Double { Double(height) * Self.horizonFraction }

    /// Focal length in pixels (Cityscapes' 2262 px at 2048 wide, scaled).
    var focal: Double { 2262.0 * Double(width) / 2048 }

    /// Image row of the ground contact of an object `depth` metres away.
    func groundRow(atDepth depth: Double) -> Double { horizon + focal * Self.cameraHeight / depth }

    /// Pixels per metre at `depth`.
    func scale(atDepth depth: Double) -> Double { focal / depth }

    public func build(seed: UInt64) -> Scene {
        var random = SplitMix64(seed: seed)
        let w = Double(width), h = Double(height), y0 = horizon
        var stuff: [Region] = [Region(labelId: Labels.sky, polygon: rect(0, 0, w, y0 + 1))]           // sky
        // Buildings left and right, of random heights.
        var x = 0.0
        while x < w {
            let facade = w * (0.08 + 0.12 * random.unit())
            let centre = x + facade / 2
            let top = (0.04 + 0.3 * random.unit()) * h
            if abs(centre - w / 2) > w * 0.12 {
                stuff.append(Region(labelId: Labels.building, polygon: rect(x, top, x + facade, y0 + 2)))
            }
            x += facade
        }
        for _ in 0..<3 {   // trees
            let cx = w * random.unit(), r = h * (0.04 + 0.06 * random.unit())
            stuff.append(Region(labelId: Labels.vegetation, polygon: ellipse(cx, y0 - r * 0.6, r * 1.3, r)))
        }
        stuff.append(Region(labelId: Labels.sidewalk, polygon: rect(0, y0, w, h)))                           // sidewalks
        stuff.append(Region(labelId: Labels.road, polygon: [Point(w * 0.47, y0), Point(w * 0.53, y0),
                                                   Point(w * 1.0, h), Point(0, h)]))            // road
        for _ in 0..<2 {   // poles on the sidewalk
            let depth = 8 + 30 * random.unit()
            let groundY = groundRow(atDepth: depth), s = scale(atDepth: depth)
            let px = random.unit() < 0.5 ? w * 0.05 * random.unit() : w * (0.95 + 0.05 * random.unit())
            stuff.append(Region(labelId: Labels.pole, polygon: rect(px, groundY - 4.5 * s, px + max(1.5, 0.15 * s), groundY)))
        }

        var classes = required
        let count = Int(random.next() % UInt64(extraObjects.count)) + extraObjects.lowerBound
        for _ in 0..<count { classes.append(pick(classWeights, &random)) }
        var objects = classes.map { makeObject(metaClass: $0, random: &random) }
        objects.sort { $0.depth > $1.depth }
        return Scene(width: width, height: height, stuff: stuff, objects: objects)
    }

    private func pick(_ pool: [(metaClass: Int, weight: Double)], _ random: inout SplitMix64) -> Int {
        let total = pool.reduce(0) { $0 + $1.weight }
        var draw = random.unit() * total
        for (value, weight) in pool {
            if draw < weight { return value }
            draw -= weight
        }
        return pool[0].metaClass
    }

    /// Places one object of `metaClass` on the ground with class-typical size and shape.
    /// `at` fixes the centre x (pixels) and the depth (metres) instead of drawing them.
    public func makeObject(metaClass: Int, random: inout SplitMix64, at position: (x: Double, depth: Double)? = nil) -> SceneObject {
        let w = Double(width)
        // Most objects are 10-50 m away, as in street scenes; none closer than 9 m.
        let drawnDepth = 9 + 60 * pow(random.unit(), 1.3)
        let onRoad = [Labels.car, Labels.truck, Labels.bus, Labels.caravan, Labels.trailer, Labels.train].contains(metaClass)
        let drawnX = onRoad ? w * (0.2 + 0.6 * random.unit()) : w * (-0.05 + 1.1 * random.unit())
        let depth = position?.depth ?? drawnDepth, cx = position?.x ?? drawnX
        let small = [Labels.person, Labels.rider, Labels.motorcycle, Labels.bicycle].contains(metaClass)
        let groundY = groundRow(atDepth: depth), s = scale(atDepth: depth) * objectScale * (small ? smallClassScale : 1)
        func place(_ local: [Point]) -> [Point] { local.map { Point(cx + $0.x * s, groundY - $0.y * s) } }
        var parts: [Region] = []
        if variety {
            let shape = RoadUsers.draw(metaClass: metaClass, random: &random)
            // Sizes vary around the class's own (±15 %), and vehicles may stand at the image border.
            let scale = s * (0.85 + 0.3 * random.unit())
            let x = onRoad && position == nil ? w * (-0.05 + 1.1 * random.unit()) : cx
            parts = shape.parts.map { $0.placed { local in local.map { Point(x + $0.x * scale, groundY - $0.y * scale) } } }
            return SceneObject(metaClass: metaClass, parts: parts, depth: depth, variant: (shape.subtype, shape.view.rawValue))
        }
        switch metaClass {
        case Labels.person, Labels.rider:
            let width = 0.5 + 0.15 * random.unit(), height = 1.6 + 0.3 * random.unit()
            parts = [Region(labelId: metaClass, polygon: place(Self.person(width: width, height: height, base: 0)))]
        case Labels.motorcycle, Labels.bicycle:
            let length = metaClass == Labels.bicycle ? 1.7 : 2.1, tall = metaClass == Labels.bicycle ? 1.05 : 1.15
            parts = [Region(labelId: metaClass, polygon: place([Point(-length / 2, 0), Point(length / 2, 0),
                                                                Point(length / 2, tall * 0.7), Point(length * 0.15, tall),
                                                                Point(-length * 0.2, tall), Point(-length / 2, tall * 0.65)]))]
            parts.append(Region(labelId: Labels.rider, polygon: place(Self.person(width: 0.55, height: 1.15, base: 0.6))))
        default:
            let (minLength, maxLength, tall): (Double, Double, Double) = switch metaClass {
            case Labels.car: (1.8, 4.4, 1.5)
            case Labels.truck: (2.5, 8.0, 3.4)
            case Labels.bus: (2.6, 11.0, 3.2)
            case Labels.train: (3.0, 16.0, 3.8)
            case Labels.caravan: (2.3, 6.0, 2.7)
            default: (2.2, 5.0, 1.6)   // 30 trailer
            }
            // Most traffic is seen from behind or in front (its width); some side-on (its length).
            let sideOn = random.unit() < 0.4
            let length = sideOn ? minLength + (maxLength - minLength) * random.unit() : minLength * (0.95 + 0.1 * random.unit())
            parts = [Region(labelId: metaClass, polygon: place(Self.vehicle(length: length, height: tall, kind: metaClass)))]
        }
        return SceneObject(metaClass: metaClass, parts: parts, depth: depth)
    }

    /// A standing figure (head, shoulders, body) in metres, origin at the feet.
    static func person(width: Double, height: Double, base: Double) -> [Point] {
        let half = width / 2, body = base + (height - base) * 0.82
        return [Point(-half * 0.8, base), Point(half * 0.8, base), Point(half, body - 0.25 * (height - base)),
                Point(half * 0.5, body), Point(half * 0.4, height), Point(-half * 0.4, height),
                Point(-half * 0.5, body), Point(-half, body - 0.25 * (height - base))]
    }

    /// A vehicle outline in metres: cars get a cabin, the rest are boxes with a bevelled top.
    static func vehicle(length: Double, height: Double, kind: Int) -> [Point] {
        let half = length / 2, clearance = 0.15
        if kind == Labels.car {
            return [Point(-half, clearance), Point(half, clearance), Point(half, height * 0.6),
                    Point(half * 0.55, height * 0.64), Point(half * 0.35, height), Point(-half * 0.5, height),
                    Point(-half * 0.7, height * 0.64), Point(-half, height * 0.6)]
        }
        let bevel = min(0.3, length * 0.05)
        return [Point(-half, clearance), Point(half, clearance), Point(half, height - bevel),
                Point(half - bevel, height), Point(-half + bevel, height), Point(-half, height - bevel)]
    }
}

extension Region {
    /// The same part with its polygon mapped: mirrored or foreshortened in object metres, or placed in image pixels.
    func placed(_ place: ([Point]) -> [Point]) -> Region { Region(labelId: labelId, polygon: place(polygon), tone: tone) }
}

func rect(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) -> [Point] {
    [Point(x0, y0), Point(x1, y0), Point(x1, y1), Point(x0, y1)]
}

func ellipse(_ cx: Double, _ cy: Double, _ rx: Double, _ ry: Double, sides: Int = 16) -> [Point] {
    (0..<sides).map { k in
        let angle = Double(k) / Double(sides) * 2 * Double.pi
        return Point(cx + rx * cos(angle), cy + ry * sin(angle))
    }
}
