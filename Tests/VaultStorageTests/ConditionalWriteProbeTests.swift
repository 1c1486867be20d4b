import Foundation
import Testing
import Synchronization
@testable import VaultStorage

@Suite("the conditional-write probe")
struct ConditionalWriteProbeTests {
    /// A store's answers to conditional PUTs of one object, as S3 gives them or, with the
    /// flags, as a store that ignores one condition would.
    final class Object: Sendable {
        let state = Mutex<(etag: String?, version: Int, deleted: Bool)>((nil, 0, false))
        let honoursNoneMatch: Bool, honoursMatch: Bool

        init(honoursNoneMatch: Bool = true, honoursMatch: Bool = true) {
            self.honoursNoneMatch = honoursNoneMatch
            self.honoursMatch = honoursMatch
        }

        func put(_ headers: [(String, String)]) -> ConditionalWriteProbe.Answer {
            state.withLock { s in
                for (name, value) in headers {
                    if name == "if-none-match", honoursNoneMatch, s.etag != nil { return .init(status: 412) }
                    if name == "if-match", honoursMatch, s.etag != value { return .init(status: 412) }
                }
                s.version += 1
                s.etag = "\"v\(s.version)\""
                return .init(status: 200, etag: s.etag)
            }
        }

        func probe() -> ConditionalWriteProbe {
            ConditionalWriteProbe(put: { self.put($0) }, delete: { self.state.withLock { $0.deleted = true } }, location: "s3://b/")
        }
    }

    @Test("a store that refuses failed conditions passes, and the probe object is removed")
    func honoured() async throws {
        let object = Object()
        try await object.probe().run()
        #expect(object.state.withLock { $0.deleted && $0.version == 2 }, "created, then renewed on its own ETag")
    }

    @Test("a store that ignores If-None-Match or If-Match is refused by name, and the probe object is still removed")
    func ignored() async throws {
        for object in [Object(honoursNoneMatch: false), Object(honoursMatch: false)] {
            do {
                try await object.probe().run()
                Issue.record("a store ignoring a condition passed")
            } catch let error as StorageError {
                #expect(error.kind == .misconfigured)
                #expect(error.message.hasPrefix("s3://b/ does not honour conditional writes: "), "\(error.message)")
            }
            #expect(object.state.withLock { $0.deleted })
        }
    }
}
