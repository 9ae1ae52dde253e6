/// A network model is stored as its string form (`10gbit:50us,nodes-of=8,intra=nvlink`), so a
/// run file holds exactly what the `--network` flag takes, and a bad value in a file gets the
/// same sentence as a bad flag.
extension NetworkModel: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try NetworkModel(parsing: text)
        } catch let error as CommError {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
