import Foundation

/// A small deterministic generator (SplitMix64): the same seed gives the same inputs on every
/// machine, so a failure found once is found again.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Turns a valid input into a damaged one the way files and networks damage data: flipped
/// bits, bytes overwritten with bytes that matter to parsers, truncation, slices removed,
/// duplicated or inserted, or nothing of the original at all.
struct Mutator {
    var random: SeededGenerator

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    /// Bytes that change a parser's path: delimiters of YAML, JSON and XML, digits, signs,
    /// quotes, escapes, NUL and the high bit.
    private static let interesting: [UInt8] = Array(":{}[],\"'\\-#&*!|>%@`\n\t 0123456789/.<>=;xX".utf8) + [0, 0x7f, 0x80, 0xff]

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        let rounds = Int.random(in: 1...4, using: &random)
        for _ in 0..<rounds {
            switch Int.random(in: 0..<8, using: &random) {
            case 0 where !bytes.isEmpty:
                let i = Int.random(in: bytes.indices, using: &random)
                bytes[i] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
            case 1 where !bytes.isEmpty:
                bytes[Int.random(in: bytes.indices, using: &random)] = Self.interesting.randomElement(using: &random) ?? 0
            case 2:
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            case 3 where bytes.count > 1:
                let a = Int.random(in: 0..<bytes.count, using: &random)
                let b = Int.random(in: a...min(bytes.count, a + 64), using: &random)
                bytes.removeSubrange(a..<b)
            case 4 where !bytes.isEmpty:
                let a = Int.random(in: 0..<bytes.count, using: &random)
                let b = Int.random(in: a...min(bytes.count, a + 64), using: &random)
                bytes.insert(contentsOf: bytes[a..<b], at: Int.random(in: 0...bytes.count, using: &random))
            case 5:
                let inserted = (0..<Int.random(in: 1...16, using: &random)).map { _ in Self.interesting.randomElement(using: &random) ?? 0 }
                bytes.insert(contentsOf: inserted, at: Int.random(in: 0...bytes.count, using: &random))
            case 6 where !bytes.isEmpty:
                // A number made huge or negative, as a damaged length field would be.
                let i = Int.random(in: bytes.indices, using: &random)
                let number = ["-1", "99999999999999999999", "0", "-9223372036854775808", "1e308", "18446744073709551616"].randomElement(using: &random) ?? "0"
                bytes.insert(contentsOf: Array(number.utf8), at: i)
            default:
                bytes = (0..<Int.random(in: 0...256, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
        }
        return bytes
    }

    mutating func mutate(_ text: String) -> String { String(decoding: mutate(Array(text.utf8)), as: UTF8.self) }
}
