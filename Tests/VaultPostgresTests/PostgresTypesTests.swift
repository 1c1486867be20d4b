import Testing
@testable import VaultSupport
@testable import VaultPostgres

@Suite("LSN and WAL file names")
struct PostgresTypesTests {
    @Test("LSN parses and prints PostgreSQL's X/Y form")
    func lsn() throws {
        let l = try #require(LSN("16/B374D848"))
        #expect(l.value == 0x16_B374_D848)
        #expect(l.description == "16/B374D848")
        #expect(LSN("0/0")?.value == 0)
        #expect(LSN("nonsense") == nil)
        #expect(LSN("1/2/3") == nil)
        #expect(LSN("123456789/0") == nil)
        #expect(try #require(LSN("0/FFFFFFFF")) < (try #require(LSN("1/0"))))
    }

    @Test("segment names from LSNs, for 16 MiB and 64 MiB segments")
    func segmentArithmetic() {
        let mb16: UInt64 = 16 << 20
        #expect(WALFileName.segment(containing: LSN(0x16_B374_D848), timeline: 1, segmentSize: mb16) == "0000000100000016000000B3")
        #expect(WALFileName.segment(containing: LSN(0), timeline: 2, segmentSize: mb16) == "000000020000000000000000")
        #expect(WALFileName.segment(containing: LSN(0x1_0000_0000), timeline: 1, segmentSize: mb16) == "000000010000000100000000")
        #expect(WALFileName.segment(containing: LSN(0x1_0000_0000 - 1), timeline: 1, segmentSize: mb16) == "0000000100000000000000FF")
        #expect(WALFileName.segment(containing: LSN(0x16_B374_D848), timeline: 1, segmentSize: 64 << 20) == "00000001000000160000002C")
        let name = WALFileName.segment(timeline: 3, number: 0x1_23, segmentSize: mb16)
        #expect(WALFileName(name)?.segmentNumber(segmentSize: mb16) == 0x1_23)
    }

    @Test("archived file names are classified, anything else is refused")
    func fileNames() {
        #expect(WALFileName("000000010000000000000042")?.kind == .segment)
        #expect(WALFileName("000000010000000000000042.partial")?.kind == .partial)
        #expect(WALFileName("00000002.history")?.kind == .history)
        #expect(WALFileName("00000002.history")?.timeline == 2)
        #expect(WALFileName("000000010000000000000042.00000028.backup")?.kind == .backupHistory)
        #expect(WALFileName("0000000A0000000000000042")?.timelineHex == "0000000A")
        for bad in ["", "00000001000000000000004", "000000010000000000000042x", "00000001000000000000004g",
                    "000000010000000000000042.partia", "../../etc/passwd", "0000000g.history", "000000010000000000000042.0000002.backup"] {
            #expect(WALFileName(bad) == nil, "\(bad) must be refused")
        }
    }

    @Test("the long page header yields the system identifier")
    func pageHeader() {
        var w = ByteWriter()
        w.append(UInt16(0xD110)); w.append(UInt16(0x0002)); w.append(UInt32(1)); w.append(UInt64(0x0100_0000))
        w.append(UInt32(0)); w.append(UInt32(0)); w.append(UInt64(7_312_345_678_901_234_567)); w.append(UInt32(16 << 20)); w.append(UInt32(8192))
        let h = WALLongPageHeader(w.bytes)
        #expect(h?.systemIdentifier == 7_312_345_678_901_234_567)
        #expect(h?.segmentSize == 16 << 20)
        #expect(h?.majorVersion == 15)
        var short = w.bytes
        short[2] = 0
        #expect(WALLongPageHeader(short) == nil)
    }
}

@Suite("connection strings, as libpq reads them")
struct ConnInfoTests {
    @Test("a keyword string or a URI gets application_name as one more keyword, quoted for libpq")
    func setting() throws {
        let plain = ConnInfo.setting("application_name", to: "b", in: "host=db-a port=5433 user=vault dbname=postgres")
        #expect(plain == "application_name='b' dbname='postgres' host='db-a' port='5433' user='vault'")
        let uri = ConnInfo.setting("application_name", to: "node 'b'\\x", in: "postgresql://vault@db-a:5433/postgres?sslmode=require")
        let parsed = try #require(ConnInfo(uri))
        #expect(parsed.host == "db-a" && parsed.port == "5433" && parsed.values["sslmode"] == "require" && parsed.values["user"] == "vault")
        #expect(parsed.values["application_name"] == "node 'b'\\x", "quotes and backslashes survive: \(uri)")
        #expect(ConnInfo("host=a port") == nil, "libpq refuses a malformed string")
    }
}
