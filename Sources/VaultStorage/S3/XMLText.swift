import Foundation

/// The little XML S3 answers with (listings, errors, multipart upload ids), read by tag:
/// S3's documents are flat enough that the text of named elements is all vault needs.
enum XMLText {
    /// The text of every `<tag>…</tag>`, unescaped, in document order.
    static func values(_ tag: String, in xml: String) -> [String] {
        elements(tag, in: xml).map(unescape)
    }

    /// The raw (still escaped) content of every `<tag>…</tag>`, for elements that contain
    /// others, such as a listing's `<Contents>`.
    static func elements(_ tag: String, in xml: String) -> [String] {
        var out: [String] = []
        let open = "<\(tag)>", close = "</\(tag)>"
        var rest = Substring(xml)
        while let start = rest.range(of: open) {
            rest = rest[start.upperBound...]
            guard let end = rest.range(of: close) else { break }
            out.append(String(rest[..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return out
    }

    static func value(_ tag: String, in xml: String) -> String? { values(tag, in: xml).first }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&apos;")
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&#13;", with: "\r").replacingOccurrences(of: "&amp;", with: "&")
    }
}
