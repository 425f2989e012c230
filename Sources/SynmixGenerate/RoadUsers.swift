import Foundation
import SynmixCore

/// The demo benchmark's road users: every class comes in sub-types with silhouettes of their own
/// (a bus is a single, an articulated or a double-decker; a truck a box, a tanker, a flatbed or a
/// pickup; …) seen from the front or back, the side or at an angle, so that a class is a family
/// of shapes and a few frames do not show all of it. Both domains draw from this one world.
public enum RoadUsers {
    /// The side a road user is seen from.
    public enum View: String, Sendable, CaseIterable {
        /// Head-on or from behind: its width.
        case front
        /// Side-on: its length.
        case side
        /// At an angle: the side foreshortened, the near end taller, its front face showing.
        case oblique
    }

    /// One drawn road user, in its own metres (x along the image, y up from the ground).
    struct Shape {
        var subtype: String
        var view: View
        /// Label id, polygon and tone (1 for outlines; details darker or lighter inside them).
        var parts: [Region]
    }

    /// The sub-types of a meta class (Cityscapes label id of the object, 32/33 with their rider).
    public static func subtypes(of metaClass: Int) -> [String] {
        switch metaClass {
        case Labels.person: ["standing", "walking", "child"]
        case Labels.car: ["sedan", "hatchback", "van", "suv"]
        case Labels.truck: ["box", "tanker", "flatbed", "pickup"]
        case Labels.bus: ["single", "articulated", "double-decker"]
        case Labels.train: ["tram", "regional"]
        case Labels.motorcycle: ["sport", "cruiser", "scooter"]
        case Labels.bicycle: ["city", "road", "cargo"]
        default: ["plain"]
        }
    }

    /// The views a meta class is drawn in (a pedestrian's outline hardly changes with the view).
    public static func views(of metaClass: Int) -> [View] {
        switch metaClass {
        case Labels.person, Labels.rider: [.front]
        // Head-on, a two-wheeler is a stick under its rider that the demo's input cannot show: side-on and at an angle.
        case Labels.motorcycle, Labels.bicycle: [.side, .oblique]
        default: View.allCases
        }
    }

    /// Every class × sub-type × view the world holds, as "class/subtype/view".
    public static func combinations(of metaClasses: [Int]) -> [String] {
        metaClasses.flatMap { c in subtypes(of: c).flatMap { s in views(of: c).map { "\(c)/\(s)/\($0.rawValue)" } } }
    }

    /// A random road user of `metaClass`: sub-type, view and proportions drawn from `random`.
    static func draw(metaClass: Int, random: inout SplitMix64) -> Shape {
        let kinds = subtypes(of: metaClass), views = views(of: metaClass)
        let subtype = kinds[Int(random.next() % UInt64(kinds.count))]
        let view = views[Int(random.next() % UInt64(views.count))]
        let mirrored = random.unit() < 0.5
        var parts: [Region]
        switch metaClass {
        case Labels.person:
            parts = person(subtype, random: &random)
        case Labels.motorcycle, Labels.bicycle:
            parts = twoWheeler(metaClass, subtype, view: view, random: &random)
        default:
            parts = vehicle(metaClass, subtype, view: view, random: &random)
        }
        if mirrored { parts = parts.map { $0.placed { $0.map { Point(-$0.x, $0.y) } } } }
        return Shape(subtype: subtype, view: view, parts: parts)
    }

    // MARK: people

    static func person(_ pose: String, random: inout SplitMix64) -> [Region] {
        let height = pose == "child" ? 1.1 + 0.25 * random.unit() : 1.6 + 0.3 * random.unit()
        let width = (pose == "child" ? 0.42 : 0.5) + 0.15 * random.unit()
        return figure(pose, width: width, height: height, base: 0, label: Labels.person)
    }

    /// A figure with its head: standing (legs together), walking (legs apart) or a child (large head).
    static func figure(_ pose: String, width: Double, height: Double, base: Double, label: Int, lean: Double = 0) -> [Region] {
        let half = width / 2, tall = height - base, hip = base + tall * 0.45, body = base + tall * 0.82
        let shoulder = body - 0.25 * tall
        func top(_ y: Double) -> Double { lean * (y - base) / tall }   // a leaning rider's torso moves forward
        var outline: [Point]
        if pose == "walking" {
            let stride = half * 1.1
            outline = [Point(-stride, base), Point(-stride + half * 0.45, base), Point(0, hip - tall * 0.1), Point(stride - half * 0.45, base),
                       Point(stride, base), Point(half * 0.55, hip)]
        } else {
            outline = [Point(-half * 0.8, base), Point(half * 0.8, base)]
        }
        outline += [Point(half + top(shoulder), shoulder), Point(half * 0.5 + top(body), body), Point(half * 0.4 + top(height), height),
                    Point(-half * 0.4 + top(height), height), Point(-half * 0.5 + top(body), body), Point(-half + top(shoulder), shoulder)]
        if pose == "walking" { outline.append(Point(-half * 0.55, hip)) }
        let headSize = tall * (pose == "child" ? 0.18 : 0.13)
        let head = ellipse(top(height), height - headSize, headSize * 0.45, headSize, sides: 8)
        return [Region(labelId: label, polygon: outline), Region(labelId: label, polygon: head, tone: 1.3)]
    }

    // MARK: two-wheelers and their riders

    static func twoWheeler(_ metaClass: Int, _ subtype: String, view: View, random: inout SplitMix64) -> [Region] {
        let (length, tall, wheel): (Double, Double, Double) = switch subtype {
        case "sport": (2.0, 1.1, 0.32)
        case "cruiser": (2.35, 0.95, 0.34)
        case "scooter": (1.8, 1.15, 0.22)
        case "road": (1.75, 1.0, 0.34)
        case "cargo": (2.45, 1.05, 0.26)
        default: (1.75, 1.1, 0.33)   // city bicycle
        }
        let leaning = ["sport", "road"].contains(subtype)
        let rider = figure("standing", width: 0.55, height: 1.15 + (leaning ? -0.1 : 0.05), base: 0.6, label: Labels.rider,
                           lean: leaning ? 0.3 : 0)
        let half = length / 2
        var outline: [Point]
        switch subtype {
        case "sport":   // a fairing sloping down to the front
            outline = [Point(-half, 0), Point(half, 0), Point(half, tall * 0.55), Point(half * 0.4, tall), Point(-half * 0.3, tall * 0.75),
                       Point(-half, tall * 0.7)]
        case "cruiser":   // long and low, tall bars
            outline = [Point(-half, 0), Point(half, 0), Point(half * 0.8, tall), Point(half * 0.55, tall), Point(0, tall * 0.55),
                       Point(-half, tall * 0.6)]
        case "scooter":   // step-through: a low floor between the wheels
            outline = [Point(-half, 0), Point(half, 0), Point(half * 0.7, tall), Point(half * 0.45, tall), Point(half * 0.3, tall * 0.3),
                       Point(-half * 0.2, tall * 0.3), Point(-half * 0.3, tall * 0.65), Point(-half, tall * 0.6)]
        case "cargo":   // a box ahead of the rider
            outline = [Point(-half, 0), Point(half, 0), Point(half, tall * 0.65), Point(0, tall * 0.65), Point(-half * 0.05, tall),
                       Point(-half * 0.35, tall), Point(-half, tall * 0.6)]
        default:
            outline = [Point(-half, 0), Point(half, 0), Point(half, tall * 0.7), Point(half * 0.15, tall), Point(-half * 0.2, tall),
                       Point(-half, tall * 0.65)]
        }
        let axle = half - wheel - 0.02
        var parts = [Region(labelId: metaClass, polygon: outline)]
        parts += [-axle, axle].map { Region(labelId: metaClass, polygon: ellipse($0, wheel, wheel, wheel, sides: 10), tone: 0.3) }
        if metaClass == Labels.motorcycle { parts.append(Region(labelId: metaClass, polygon: rect(-0.35, 0.25, 0.35, 0.6), tone: 0.5)) }
        if view == .oblique {   // foreshortened to 70 %, under a rider as wide as side-on
            parts = parts.map { $0.placed { $0.map { Point($0.x * 0.7, $0.y) } } }
        }
        return parts + rider
    }

    // MARK: vehicles

    /// Length (side-on), width (head-on) and height of a vehicle sub-type, in metres.
    static func dimensions(_ metaClass: Int, _ subtype: String) -> (length: ClosedRange<Double>, width: Double, height: Double) {
        switch (metaClass, subtype) {
        case (Labels.car, "sedan"): (4.3...4.9, 1.8, 1.45)
        case (Labels.car, "hatchback"): (3.6...4.1, 1.75, 1.5)
        case (Labels.car, "van"): (4.6...5.2, 1.95, 2.0)
        case (Labels.car, _): (4.4...4.9, 1.9, 1.75)            // SUV
        case (Labels.truck, "box"): (6.0...9.0, 2.5, 3.4)
        case (Labels.truck, "tanker"): (8.0...11.0, 2.5, 3.1)
        case (Labels.truck, "flatbed"): (7.0...10.0, 2.5, 2.8)
        case (Labels.truck, _): (5.0...5.6, 1.95, 1.9)            // pickup
        case (Labels.bus, "articulated"): (16.5...18.5, 2.55, 3.2)
        case (Labels.bus, "double-decker"): (10.0...11.5, 2.55, 4.3)
        case (Labels.bus, _): (10.5...12.5, 2.55, 3.2)          // single
        case (Labels.train, "tram"): (10.0...16.0, 2.4, 3.5)
        case (Labels.train, _): (12.0...18.0, 2.9, 3.9)           // regional
        default: (2.2...5.0, 2.0, 1.6)                  // trailer, caravan
        }
    }

    static func vehicle(_ metaClass: Int, _ subtype: String, view: View, random: inout SplitMix64) -> [Region] {
        let size = dimensions(metaClass, subtype)
        let length = size.length.lowerBound + (size.length.upperBound - size.length.lowerBound) * random.unit()
        let scale = 0.95 + 0.1 * random.unit()
        func part(_ polygon: [Point], _ tone: Double = 1) -> Region { Region(labelId: metaClass, polygon: polygon, tone: tone) }
        switch view {
        case .front:
            return front(metaClass, subtype, width: size.width * scale, height: size.height).map { part($0.0, $0.1) }
        case .side:
            return side(metaClass, subtype, length: length, height: size.height).map { part($0.0, $0.1) }
        case .oblique:
            // The side foreshortened to 60 %, its near (front) end 10 % taller, and the front face as a darker band there.
            let half = length / 2, squeeze = 0.6
            func turn(_ p: Point) -> Point { Point(p.x * squeeze, p.y * (1 + 0.1 * p.x / half)) }
            let parts = side(metaClass, subtype, length: length, height: size.height).map { part($0.0.map(turn), $0.1) }
            let face = min(size.width * 0.45, half * squeeze * 0.5)
            return parts + [part([turn(Point(half - face / squeeze, 0.2)), turn(Point(half, 0.2)), turn(Point(half, size.height * 0.5)),
                                  turn(Point(half - face / squeeze, size.height * 0.5))], 0.8)]
        }
    }

    /// Outline and details of a vehicle side-on.
    static func side(_ metaClass: Int, _ subtype: String, length: Double, height h: Double) -> [([Point], Double)] {
        let half = length / 2, clearance = subtype == "suv" ? 0.3 : 0.15
        let window = 0.45, tyre = 0.25
        func wheels(_ radius: Double, at xs: [Double]) -> [([Point], Double)] {
            xs.map { (ellipse(min(half - radius, max(-half + radius, $0)), clearance + radius * 0.6, radius, radius * 0.6, sides: 10), tyre) }
        }
        func box(bevel: Double) -> [Point] {
            [Point(-half, clearance), Point(half, clearance), Point(half, h - bevel), Point(half - bevel, h), Point(-half + bevel, h), Point(-half, h - bevel)]
        }
        /// A cab of `cab` metres and `cabHeight` at the front (+x) of a body `bodyHeight` tall.
        func cabAndBody(cab: Double, cabHeight: Double, bodyHeight: Double, bodyFrom: Double = 0.15) -> [Point] {
            [Point(-half, bodyFrom), Point(half, clearance), Point(half, cabHeight * 0.85), Point(half - 0.2, cabHeight),
             Point(half - cab, cabHeight), Point(half - cab, bodyHeight), Point(-half, bodyHeight)]
        }
        switch (metaClass, subtype) {
        case (Labels.car, "sedan"):
            return [([Point(-half, clearance), Point(half, clearance), Point(half, h * 0.55), Point(half * 0.4, h * 0.62), Point(half * 0.2, h),
                      Point(-half * 0.45, h), Point(-half * 0.65, h * 0.66), Point(-half, h * 0.6)], 1),
                    ([Point(-half * 0.55, h * 0.68), Point(half * 0.3, h * 0.68), Point(half * 0.17, h * 0.94), Point(-half * 0.42, h * 0.94)], window)]
                + wheels(0.32, at: [-half * 0.62, half * 0.62])
        case (Labels.car, "hatchback"):
            return [([Point(-half, clearance), Point(half, clearance), Point(half, h * 0.55), Point(half * 0.45, h * 0.62), Point(half * 0.15, h),
                      Point(-half * 0.8, h), Point(-half, h * 0.7)], 1),
                    ([Point(-half * 0.75, h * 0.68), Point(half * 0.35, h * 0.68), Point(half * 0.12, h * 0.94), Point(-half * 0.72, h * 0.94)], window)]
                + wheels(0.31, at: [-half * 0.66, half * 0.64])
        case (Labels.car, "van"):
            return [([Point(-half, clearance), Point(half, clearance), Point(half, h * 0.5), Point(half * 0.72, h * 0.9), Point(half * 0.55, h),
                      Point(-half, h)], 1),
                    (rect(half * 0.5, h * 0.6, half * 0.72, h * 0.85), window), (rect(-half * 0.8, h * 0.6, half * 0.35, h * 0.85), window * 1.3)]
                + wheels(0.33, at: [-half * 0.68, half * 0.62])
        case (Labels.car, _):   // SUV: tall, boxy to the rear
            return [([Point(-half, clearance), Point(half, clearance), Point(half, h * 0.58), Point(half * 0.45, h * 0.64), Point(half * 0.3, h),
                      Point(-half * 0.95, h), Point(-half, h * 0.9)], 1),
                    (rect(-half * 0.85, h * 0.66, half * 0.25, h * 0.93), window)]
                + wheels(0.38, at: [-half * 0.62, half * 0.62])
        case (Labels.truck, "box"):
            let cab = min(1.8, length * 0.3)
            return [(cabAndBody(cab: cab, cabHeight: h * 0.8, bodyHeight: h), 1), (rect(half - cab * 0.8, h * 0.45, half - 0.15, h * 0.68), window),
                    (rect(half - cab - 0.12, 0.2, half - cab, h * 0.95), 0.6)]
                + wheels(0.45, at: [-half * 0.7, -half * 0.45, half - cab * 0.5])
        case (Labels.truck, "tanker"):
            // A cab, and a rounded tank on a chassis behind it.
            let cab = 2.0, tankEnd = half - cab - 0.2
            var outline = [Point(-half, 0.3), Point(half, clearance), Point(half, h * 0.8), Point(half - cab, h * 0.8), Point(half - cab, h * 0.4)]
            for k in 0...6 {   // the tank's front and rear ends, rounded
                let a = Double.pi / 2 * Double(k) / 6
                outline.append(Point(tankEnd - 0.5 + 0.5 * cos(a), h * 0.65 + h * 0.35 * sin(a)))
            }
            for k in 0...6 {
                let a = Double.pi / 2 + Double.pi / 2 * Double(k) / 6
                outline.append(Point(-half + 0.5 + 0.5 * cos(a), h * 0.65 + h * 0.35 * sin(a)))
            }
            outline.append(Point(-half, h * 0.35))
            return [(outline, 1), (rect(half - cab * 0.8, h * 0.5, half - 0.15, h * 0.72), window),
                    (rect(-half + 0.3, h * 0.62, tankEnd - 0.3, h * 0.68), 1.25)]
                + wheels(0.45, at: [-half * 0.75, -half * 0.55, half - cab * 0.5])
        case (Labels.truck, "flatbed"):
            // A cab and a low bed with a crate on it.
            let cab = 2.0
            return [([Point(-half, 0.5), Point(half, clearance), Point(half, h * 0.85), Point(half - 0.2, h), Point(half - cab, h),
                      Point(half - cab, h * 0.48), Point(-half * 0.1, h * 0.48), Point(-half * 0.1, h * 0.78), Point(-half * 0.6, h * 0.78),
                      Point(-half * 0.6, h * 0.48), Point(-half, h * 0.48)], 1),
                     (rect(half - cab * 0.8, h * 0.55, half - 0.15, h * 0.8), window), (rect(-half * 0.6, h * 0.48, -half * 0.1, h * 0.78), 0.7)]
                + wheels(0.45, at: [-half * 0.7, half - cab * 0.5])
        case (Labels.truck, _):   // pickup: a tall cab and a low open bed
            return [([Point(-half, clearance), Point(half, clearance), Point(half, h * 0.55), Point(half * 0.5, h * 0.6), Point(half * 0.35, h),
                      Point(-half * 0.15, h), Point(-half * 0.2, h * 0.58), Point(-half, h * 0.58)], 1),
                    ([Point(-half * 0.12, h * 0.64), Point(half * 0.42, h * 0.64), Point(half * 0.3, h * 0.93), Point(-half * 0.1, h * 0.93)], window)]
                + wheels(0.4, at: [-half * 0.62, half * 0.6])
        case (Labels.bus, "articulated"):
            // Two bodies and the dark bellows between them, one long window band each.
            return [(box(bevel: 0.3), 1), (rect(-half + 0.3, h * 0.5, -0.6, h * 0.82), window), (rect(0.6, h * 0.5, half - 0.3, h * 0.82), window),
                    (rect(-0.55, 0.2, 0.55, h * 0.97), 0.35)]
                + wheels(0.5, at: [-half * 0.8, -half * 0.1, half * 0.75])
        case (Labels.bus, "double-decker"):
            return [(box(bevel: 0.35), 1), (rect(-half + 0.25, h * 0.38, half - 0.25, h * 0.56), window),
                    (rect(-half + 0.25, h * 0.68, half - 0.25, h * 0.88), window)]
                + wheels(0.5, at: [-half * 0.65, half * 0.7])
        case (Labels.bus, _):
            return [(box(bevel: 0.3), 1), (rect(-half + 0.2, h * 0.5, half - 0.2, h * 0.82), window)]
                + wheels(0.5, at: [-half * 0.7, half * 0.7])
        case (Labels.train, "tram"):
            // Rounded ends, a row of windows, a low dark skirt.
            let nose = 1.2
            let outline = [Point(-half + nose, 0.3), Point(half - nose, 0.3), Point(half, h * 0.35), Point(half, h * 0.85), Point(half - nose * 0.6, h),
                           Point(-half + nose * 0.6, h), Point(-half, h * 0.85), Point(-half, h * 0.35)]
            let count = max(1, Int(length / 2.6)), pitch = (length - 2 * nose) / Double(count)
            return [(outline, 1)] + (0..<count).map { k in
                let x0 = -half + nose + Double(k) * pitch
                return (rect(x0 + pitch * 0.15, h * 0.45, x0 + pitch * 0.85, h * 0.85), window)
            } + [(rect(-half + nose, 0.3, half - nose, 0.6), 0.35)]
        case (Labels.train, _):   // regional train: square ends, small separate windows, a tall dark skirt
            let count = max(1, Int(length / 2.2)), pitch = (length - 0.4) / Double(count)
            return [(box(bevel: 0.2), 1)] + (0..<count).map { k in
                let x0 = -half + 0.2 + Double(k) * pitch
                return (rect(x0 + pitch * 0.2, h * 0.52, x0 + pitch * 0.8, h * 0.8), window)
            } + [(rect(-half, 0.15, half, 0.55 + 0.2), 0.35)]
        default:
            return [(box(bevel: 0.2), 1)] + wheels(0.35, at: [-half * 0.6, half * 0.6])
        }
    }

    /// Outline and details of a vehicle head-on (or from behind).
    static func front(_ metaClass: Int, _ subtype: String, width: Double, height h: Double) -> [([Point], Double)] {
        let half = width / 2, clearance = 0.15, window = 0.45
        let tyres: [([Point], Double)] = [(rect(-half, 0, -half + 0.3, clearance + 0.35), 0.25), (rect(half - 0.3, 0, half, clearance + 0.35), 0.25)]
        /// A body up to `shoulder` and a cabin narrowing to `roof` of the width at the top.
        func cabin(shoulder: Double, roof: Double) -> [Point] {
            [Point(-half, 0), Point(half, 0), Point(half, h * shoulder), Point(half * roof, h), Point(-half * roof, h), Point(-half, h * shoulder)]
        }
        switch metaClass {
        case Labels.car:
            let (shoulder, roof): (Double, Double) = switch subtype {
            case "van": (0.5, 0.85)
            case "suv": (0.6, 0.8)
            case "hatchback": (0.55, 0.68)
            default: (0.55, 0.62)
            }
            return [(cabin(shoulder: shoulder, roof: roof), 1),
                    ([Point(-half * 0.85, h * (shoulder + 0.05)), Point(half * 0.85, h * (shoulder + 0.05)), Point(half * roof * 0.92, h * 0.94),
                      Point(-half * roof * 0.92, h * 0.94)], window)] + tyres
        case Labels.truck:
            switch subtype {
            case "box":   // the cab, with the taller, wider box showing above and beside it
                return [([Point(-half * 0.92, 0), Point(half * 0.92, 0), Point(half * 0.92, h * 0.78), Point(half, h * 0.78), Point(half, h),
                          Point(-half, h), Point(-half, h * 0.78), Point(-half * 0.92, h * 0.78)], 1),
                        (rect(-half * 0.8, h * 0.45, half * 0.8, h * 0.7), window), (rect(-half, h * 0.78, half, h * 0.8), 0.6)] + tyres
            case "tanker":   // the cab, with the round tank showing above it
                let tank = ellipse(0, h * 0.72, half * 0.95, h * 0.28, sides: 14).filter { $0.y > h * 0.72 }
                return [([Point(-half * 0.9, 0), Point(half * 0.9, 0), Point(half * 0.9, h * 0.72)] + tank.reversed() + [Point(-half * 0.9, h * 0.72)], 1),
                        (rect(-half * 0.75, h * 0.4, half * 0.75, h * 0.62), window)] + tyres
            case "pickup":
                return [(cabin(shoulder: 0.55, roof: 0.78), 1), (rect(-half * 0.7, h * 0.62, half * 0.7, h * 0.92), window)] + tyres
            default:   // flatbed: the cab alone
                return [(cabin(shoulder: 0.85, roof: 0.95), 1), (rect(-half * 0.8, h * 0.5, half * 0.8, h * 0.78), window)] + tyres
            }
        case Labels.bus:
            let decks = subtype == "double-decker" ? [(0.38, 0.56), (0.68, 0.9)] : [(0.4, 0.85)]
            return [(cabin(shoulder: 0.95, roof: 0.97), 1)] + decks.map { (rect(-half * 0.85, h * $0.0, half * 0.85, h * $0.1), window) } + tyres
        case Labels.train:
            if subtype == "tram" {   // a rounded nose with a large windscreen
                return [(cabin(shoulder: 0.75, roof: 0.7), 1), (rect(-half * 0.75, h * 0.45, half * 0.75, h * 0.88), window),
                        (rect(-half, 0.3, half, 0.6), 0.35)]
            }
            return [(cabin(shoulder: 0.9, roof: 0.9), 1), (rect(-half * 0.6, h * 0.55, half * 0.6, h * 0.8), window), (rect(-half, 0.15, half, 0.75), 0.35)]
        default:
            return [(cabin(shoulder: 0.9, roof: 0.9), 1)] + tyres
        }
    }
}
