import XCTest
@testable import Experiment
@testable import SynmixGenerate

/// What the demo's generated train sets hold, counted on the scenes its frames are drawn from.
final class DemoDataTests: XCTestCase {
    /// Road users per frame of each meta class over `frames` scenes of the demo's synthetic train builder.
    func objectsPerFrame(_ builder: StreetSceneBuilder, frames: Int = 400) -> [Int: Double] {
        var counts: [Int: Double] = [:]
        for number in 1...frames {
            for object in DatasetGenerator.synscapesScene(number: number, builder: builder, seed: 7).objects {
                counts[object.metaClass, default: 0] += 1 / Double(frames)
            }
        }
        return counts
    }

    func testSyntheticTrainFramesHoldThreeTimesAsManyCarsAndPeopleAndEachOtherClassAsOftenAsABalancedSet() throws {
        let settings = DemoSettings.defaults
        XCTAssertEqual(settings.syntheticClasses, .carsAndPeople)
        let synthetic = objectsPerFrame(settings.syntheticTrainBuilder)
        let balanced = objectsPerFrame(settings.frameBuilder(.balanced))
        let others = [Labels.truck, Labels.bus, Labels.train, Labels.motorcycle, Labels.bicycle]
        let other = others.map { synthetic[$0, default: 0] }.reduce(0, +) / Double(others.count)
        for leading in [Labels.car, Labels.person] {
            XCTAssertEqual(synthetic[leading, default: 0] / other, 3, accuracy: 0.4)
        }
        // The extra cars and people come on top: each other class appears about as often per frame as when balanced.
        for metaClass in others {
            XCTAssertEqual(synthetic[metaClass, default: 0] / balanced[metaClass, default: 1], 1, accuracy: 0.2, "meta class \(metaClass)")
        }
        XCTAssertEqual(synthetic.values.reduce(0, +), 12.5, accuracy: 0.6)   // 8…17 road users per frame
        XCTAssertEqual(balanced.values.reduce(0, +), 8, accuracy: 0.5)       // 5…11
    }
}
