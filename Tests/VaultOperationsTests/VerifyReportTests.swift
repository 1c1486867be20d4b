import Testing
@testable import VaultFormat
@testable import VaultOperations

@Suite("verify's repository report")
struct VerifyReportTests {
    @Test("past a thousand problems the rest are counted, in one more line that says how many")
    func bounded() {
        var report = RepositoryVerifier.Report()
        report.add(RepositoryProblem("p0", "missing"))
        #expect(report.problems.map(\.object) == ["p0"])
        report.add(contentsOf: (1..<1_500).map { RepositoryProblem("p\($0)", "missing") })
        #expect(report.problems.count == RepositoryVerifier.Report.maxListed + 1)
        #expect(report.problems.last?.description == "repository check: 500 more problems found and not listed (at most 1000 are)")
        #expect(report.problems.first?.object == "p0" && report.problems[999].object == "p999")
    }
}
