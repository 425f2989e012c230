/// Written into summaries, indexes and checkpoints.
public let synmixVersion = "0.1.0"
