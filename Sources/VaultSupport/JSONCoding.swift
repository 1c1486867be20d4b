import Foundation

/// JSON encoding used for every metadata document vault writes: sorted keys so the bytes are
/// stable, ISO-8601 dates so people can read them.
public enum JSONCoding {
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        do {
            var data = try encoder.encode(value)
            if pretty { data.append(0x0a) }
            return [UInt8](data)
        } catch {
            throw CodingError(.unencodable, "cannot encode \(T.self) as JSON: \(error)")
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch {
            throw CodingError(.malformed, "\(what) is not valid: \(error.localizedDescription)")
        }
    }
}
