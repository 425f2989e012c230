import CityscapesLabels

/// The Cityscapes label ids the generator draws, each taken by name from `CityscapesLabel.all`, the one table.
enum Labels {
    static let unlabeled = id("unlabeled"), egoVehicle = id("ego vehicle"), rectificationBorder = id("rectification border")
    static let road = id("road"), sidewalk = id("sidewalk"), building = id("building"), pole = id("pole")
    static let vegetation = id("vegetation"), sky = id("sky")
    static let person = id("person"), rider = id("rider"), car = id("car"), truck = id("truck"), bus = id("bus")
    static let caravan = id("caravan"), trailer = id("trailer"), train = id("train"), motorcycle = id("motorcycle")
    static let bicycle = id("bicycle")

    /// The id of the label called `name`; a name the table lacks is a programming error, caught by any test that generates.
    static func id(_ name: String) -> Int {
        guard let label = CityscapesLabel.all.first(where: { $0.name == name }) else { preconditionFailure("no Cityscapes label '\(name)'") }
        return label.id
    }
}
