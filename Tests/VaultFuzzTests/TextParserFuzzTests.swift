import Foundation
import Testing
@testable import VaultSupport
@testable import VaultPostgres
@testable import VaultStorage
@testable import VaultPolicy

/// Thousands of damaged and random inputs, from a fixed seed, into every text parser vault
/// owns: each must give a value or an error, never crash or hang. Where a parser accepts
/// an input, what it accepted must hold together (a round trip, or a property of the value).
@Suite("fuzzing the text parsers")
struct TextParserFuzzTests {
    static let rounds = 3000

    static let policiesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Policies").path

    /// Feeds `rounds` mutations of each seed (and the seeds themselves) to `parse`.
    static func fuzz(_ seeds: [String], seed: UInt64, rounds: Int = rounds, _ parse: (String) throws -> Void) rethrows {
        var mutator = Mutator(seed: seed)
        for text in seeds { try parse(text) }
        for i in 0..<rounds {
            try parse(mutator.mutate(seeds[i % seeds.count]))
        }
    }

    @Test("policy YAML: every damaged policy is a PolicyError that names the file, never a crash")
    func policy() throws {
        let seeds = try ["sharded.yaml", "single-cluster.yaml"].map { try String(contentsOfFile: Self.policiesDir + "/" + $0, encoding: .utf8) }
        var accepted = 0, refused = 0
        Self.fuzz(seeds, seed: 1, rounds: 1500) { text in
            do {
                _ = try PolicyLoader.parse(text, path: "/fuzz/vault.yaml")
                accepted += 1
            } catch let error as PolicyError {
                #expect("\(error)".contains("/fuzz/vault.yaml"), "\(error)")
                refused += 1
            } catch {
                Issue.record("not a PolicyError: \(error)")
            }
        }
        #expect(accepted >= 2 && refused > 375, "accepted \(accepted), refused \(refused)")
    }

    @Test("cron expressions: parsed or refused with a message; a parsed one finds its next instant or says there is none")
    func cron() {
        let seeds = ["*/15 2-5 1,15 * 1-5", "0 3 * * 0", "@daily", "30 4 29 2 *", "0 0 31 4 *", "5,10-20/5 */2 * jan-mar mon-fri"]
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let calendar = { () -> Calendar in
            var c = Calendar(identifier: .gregorian)
            c.timeZone = CronExpression.utc
            return c
        }()
        Self.fuzz(seeds, seed: 2) { text in
            do {
                let cron = try CronExpression(text)
                if let next = cron.next(after: start) {
                    let c = calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: next)
                    #expect(next > start)
                    #expect(cron.matches(minute: c.minute ?? -1, hour: c.hour ?? -1, day: c.day ?? -1, month: c.month ?? -1, weekday: (c.weekday ?? 0) - 1), "\(text) -> \(next)")
                }
            } catch let error as CronError {
                #expect(error.message.hasPrefix("cron"), "\(error.message)")
            } catch {
                Issue.record("not a CronError: \(error)")
            }
        }
    }

    @Test("LSNs, WAL file names and timeline history files: parsed values round-trip, the rest are refused")
    func postgresNames() {
        Self.fuzz(["16/B374D848", "0/0", "FFFFFFFF/FFFFFFFF"], seed: 3) { text in
            if let lsn = LSN(text) { #expect(LSN(lsn.description) == lsn, "\(text)") }
        }
        let names = ["000000010000000A000000FF", "00000002.history", "000000010000000000000001.00000028.backup", "000000030000000100000002.partial"]
        Self.fuzz(names, seed: 4) { text in
            if let name = WALFileName(text) {
                #expect(name.text == text && WALFileName(name.text) == name)
                _ = name.segmentNumber(segmentSize: 16 << 20)
                _ = name.segmentNumber(segmentSize: 1 << 20)
            }
        }
        let history = "1\t0/3000060\tno recovery target specified\n\n2\t1/5000000\tbefore 2026-12-01 00:00:00+00\n"
        Self.fuzz([history], seed: 5) { text in
            if let parsed = TimelineHistory(timeline: 3, text: text) {
                _ = parsed.descends(from: 1, after: LSN(0x3000000))
                _ = parsed.timeline(forSegment: 7, segmentSize: 16 << 20)
            }
        }
    }

    @Test("conninfo strings, timestamps and durations: parsed or refused")
    func settings() {
        Self.fuzz(["host=127.0.0.1 port=5432 user='a b\\'c' dbname=x sslmode=verify-full", "postgresql://u@h:5/db?sslmode=require"], seed: 6) { text in
            if let info = ConnInfo(text) { _ = ConnInfo.setting("application_name", to: "vault 'x'", in: text) ; _ = info }
        }
        Self.fuzz(["2026-12-02T01:02:03Z", "2026-12-02 01:02:03.123+01"], seed: 7) { text in
            if let date = Timestamp.parse(text) { #expect(date.timeIntervalSince1970.isFinite) }
        }
        Self.fuzz(["90s", "5m", "1h", "2d", "30"], seed: 8) { text in
            if let seconds = PolicyDuration.parseSeconds(text) { #expect(seconds >= 0, "\(text)") }
        }
    }

    @Test("S3 XML answers: listings, errors and upload ids are read by tag, whatever the document")
    func s3XML() {
        let listing = """
            <?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>\
            <Contents><Key>main/packs/0a/p&amp;1</Key><Size>123</Size></Contents><Contents><Key>k2</Key><Size>9</Size></Contents>\
            <NextContinuationToken>tok&lt;</NextContinuationToken></ListBucketResult>
            """
        let error = "<Error><Code>NoSuchKey</Code><Message>The key &apos;x&apos; does not exist</Message></Error>"
        Self.fuzz([listing, error, "<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>"], seed: 9) { text in
            for entry in XMLText.elements("Contents", in: text) {
                _ = XMLText.value("Key", in: entry)
                _ = XMLText.value("Size", in: entry).flatMap { Int64($0) }
            }
            for tag in ["Code", "Message", "UploadId", "NextContinuationToken", "IsTruncated"] {
                for value in XMLText.values(tag, in: text) { #expect(!value.contains("&lt;") || text.contains("&amp;lt;")) }
            }
            #expect(XMLText.unescape(XMLText.escape(text)) == text)
        }
    }
}
