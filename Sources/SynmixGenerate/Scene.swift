import SynmixCore

/// A street scene described independently of any dataset's file layout: stuff
/// regions and objects as polygons in pixel coordinates, painted back to front.
public struct Scene: Sendable {
    public var width: Int
    public var height: Int
    /// Stuff painted first, in order (later covers earlier): Cityscapes label id + polygon.
    public var stuff: [Region]
    /// Objects sorted far to near (painted in this order).
    public var objects: [SceneObject]
    /// Void regions painted last on top of everything (ego vehicle, rectification border).
    public var overlays: [Region]

    public init(width: Int, height: Int, stuff: [Region] = [], objects: [SceneObject] = [], overlays: [Region] = []) {
        self.width = width
        self.height = height
        self.stuff = stuff
        self.objects = objects
        self.overlays = overlays
    }
}

public struct Region: Sendable {
    public var labelId: Int
    public var polygon: [Point]
    /// Brightness of this part relative to its object's colour. Parts with a tone other
    /// than 1 are details (windows, wheels, a head) painted inside an outline part of the
    /// same label: they belong to the same instance and add no polygon of their own.
    public var tone: Double
    public init(labelId: Int, polygon: [Point], tone: Double = 1) {
        self.labelId = labelId
        self.polygon = polygon
        self.tone = tone
    }

    public var isDetail: Bool { tone != 1 }
}

public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// How a human annotator of the real dataset labelled an object.
public enum Annotation: Sendable {
    case instance      // its own instance id
    case group         // part of a group (crowd) region: the plain label id
    case unlabeled     // too small or too hidden to annotate: label 0 (void)
}

/// One object: a vehicle, a person, or a rider on a two-wheeler (several parts).
public struct SceneObject: Sendable {
    /// The meta class a renderer would record: 24 person, 26 car, …, 32
    /// motorcyclist, 33 bicyclist (rider included).
    public var metaClass: Int
    /// Parts with their own pixel label (a bicyclist: the bicycle 33, the rider 25).
    public var parts: [Region]
    /// Metres from the camera; nearer objects are painted later.
    public var depth: Double
    public var annotation: Annotation
    /// The sub-type and view it was drawn as (`RoadUsers`), where the builder draws them.
    public var variant: (subtype: String, view: String)?

    public init(metaClass: Int, parts: [Region], depth: Double, annotation: Annotation = .instance,
                variant: (subtype: String, view: String)? = nil) {
        self.metaClass = metaClass
        self.parts = parts
        self.depth = depth
        self.annotation = annotation
        self.variant = variant
    }

    public var bounds: (minX: Double, minY: Double, maxX: Double, maxY: Double) {
        let points = parts.flatMap(\.polygon)
        return (points.map(\.x).min()!, points.map(\.y).min()!, points.map(\.x).max()!, points.map(\.y).max()!)
    }
}

/// Fills a polygon (even-odd rule, pixel centres) and calls `body(index)` for each covered pixel.
func rasterize(_ polygon: [Point], width: Int, height: Int, _ body: (Int) -> Void) {
    guard polygon.count >= 3 else { return }
    let minY = max(0, Int((polygon.map(\.y).min()! - 0.5).rounded(.up)))
    let maxY = min(height - 1, Int((polygon.map(\.y).max()! - 0.5).rounded(.down)))
    guard minY <= maxY else { return }
    var crossings: [Double] = []
    for y in minY...maxY {
        let sampleY = Double(y) + 0.5
        crossings.removeAll(keepingCapacity: true)
        for index in polygon.indices {
            let a = polygon[index], b = polygon[(index + 1) % polygon.count]
            if (a.y <= sampleY) != (b.y <= sampleY) {
                crossings.append(a.x + (sampleY - a.y) / (b.y - a.y) * (b.x - a.x))
            }
        }
        crossings.sort()
        var pair = 0
        while pair + 1 < crossings.count {
            let from = max(0, Int((crossings[pair] - 0.5).rounded(.up)))
            let to = min(width - 1, Int((crossings[pair + 1] - 0.5).rounded(.down)))
            if from <= to { for x in from...to { body(y * width + x) } }
            pair += 2
        }
    }
}
