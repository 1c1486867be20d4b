import Foundation
import Testing
import NIOHTTP1
@testable import VaultStorage

@Suite("S3 lease expiry by the store's clock")
struct LeaseLapseTests {
    static func headers(modified: String, date: String) -> HTTPHeaders {
        HTTPHeaders([("Last-Modified", modified), ("Date", date)])
    }

    @Test("the store's Last-Modified plus the holder's lease length against the store's Date decides, whatever the clocks of the hosts say")
    func storeClock() {
        // The holder wrote an expiry an hour ahead of this host's clock, but by the store's
        // clock its last write is 100 s old and its lease 60 s: lapsed.
        let farAhead = S3Lease.Body(owner: "a", token: "t", expires: Date().timeIntervalSince1970 + 3600, seconds: 60)
        let stale = Self.headers(modified: "Wed, 02 Dec 2026 10:00:00 GMT", date: "Wed, 02 Dec 2026 10:01:40 GMT")
        #expect(S3Lease.Lapse(holder: farAhead, headers: stale, leaseSeconds: 60).lapsed)
        // This host's clock runs an hour ahead, so the written expiry looks past; the store
        // says the holder wrote 30 s ago: held.
        let behind = S3Lease.Body(owner: "a", token: "t", expires: Date().timeIntervalSince1970 - 3600, seconds: 60)
        let fresh = Self.headers(modified: "Wed, 02 Dec 2026 10:00:00 GMT", date: "Wed, 02 Dec 2026 10:00:30 GMT")
        let held = S3Lease.Lapse(holder: behind, headers: fresh, leaseSeconds: 60)
        #expect(!held.lapsed)
        #expect(abs(held.at.timeIntervalSinceNow - 31) < 5, "reported as 31 s from now")
        // One second of slack for whole-second times; an older lease without its length uses ours.
        let old = S3Lease.Body(owner: "a", token: "t", expires: 0, seconds: nil)
        #expect(!S3Lease.Lapse(holder: old, headers: Self.headers(modified: "Wed, 02 Dec 2026 10:00:00 GMT", date: "Wed, 02 Dec 2026 10:01:01 GMT"), leaseSeconds: 60).lapsed)
        #expect(S3Lease.Lapse(holder: old, headers: Self.headers(modified: "Wed, 02 Dec 2026 10:00:00 GMT", date: "Wed, 02 Dec 2026 10:01:02 GMT"), leaseSeconds: 60).lapsed)
    }

    @Test("without the store's times, the holder's written expiry against this host's clock")
    func fallback() {
        let past = S3Lease.Body(owner: "a", token: "t", expires: Date().timeIntervalSince1970 - 1, seconds: 60)
        let future = S3Lease.Body(owner: "a", token: "t", expires: Date().timeIntervalSince1970 + 60, seconds: 60)
        #expect(S3Lease.Lapse(holder: past, headers: HTTPHeaders(), leaseSeconds: 60).lapsed)
        #expect(!S3Lease.Lapse(holder: future, headers: HTTPHeaders(), leaseSeconds: 60).lapsed)
    }

    @Test("a listing's LastModified is read with or without fractional seconds; anything else is no time")
    func listingDates() {
        #expect(S3Storage.parseListingDate("2026-12-02T10:00:00.250Z")?.timeIntervalSince1970 == 1_796_205_600.25)
        #expect(S3Storage.parseListingDate("2026-12-02T10:00:00Z")?.timeIntervalSince1970 == 1_796_205_600)
        #expect(S3Storage.parseListingDate("Wed, 02 Dec 2026 10:00:00 GMT") == nil)
    }
}
