import Foundation
import VaultSupport

/// A standard five-field cron expression (minute hour day-of-month month day-of-week),
/// evaluated in a time zone (UTC unless the policy names one). Supports `*`, lists, ranges,
/// steps, month and weekday names, and the `@hourly`, `@daily`, `@weekly`, `@monthly`
/// shorthands.
///
/// Across a daylight-saving change it behaves as classic cron does: a local time that does not
/// exist (clocks skip from 02:00 to 03:00) fires once, at the same offset into the next hour
/// (02:30 fires at 03:30), and a local time that happens twice (clocks go back) fires once, the
/// first time.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    public let daysOfWeek: Set<Int>
    public let dayOfMonthRestricted: Bool
    public let dayOfWeekRestricted: Bool

    public var description: String { text }

    /// Coordinated Universal Time, the zone of a policy that names none.
    public static let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current

    /// The next `count` firing times after `date`.
    public func upcoming(_ count: Int, after date: Date, in zone: TimeZone = CronExpression.utc) -> [Date] {
        var out: [Date] = []
        var from = date
        while out.count < count, let next = next(after: from, in: zone) {
            out.append(next)
            from = next
        }
        return out
    }

    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `text`; the error message says which field is wrong and why.
    public init(_ text: String) throws(CronError) {
        self.text = text
        let expanded: String
        switch text.trimmingSpaces() {
        case "@hourly": expanded = "0 * * * *"
        case "@daily", "@midnight": expanded = "0 0 * * *"
        case "@weekly": expanded = "0 0 * * 0"
        case "@monthly": expanded = "0 0 1 * *"
        default: expanded = text
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CronError(message: "cron expression '\(text)' has \(fields.count) fields, expected 5 (minute hour day month weekday)")
        }
        minutes = try Self.parseField(fields[0], name: "minute", range: 0...59, names: [])
        hours = try Self.parseField(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try Self.parseField(fields[2], name: "day of month", range: 1...31, names: [])
        months = try Self.parseField(fields[3], name: "month", range: 1...12, names: Self.monthNames, nameBase: 1)
        var dow = try Self.parseField(fields[4], name: "day of week", range: 0...7, names: Self.dayNames)
        if dow.remove(7) != nil { dow.insert(0) }
        daysOfWeek = dow
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
    }

    /// Whether the expression fires at the given UTC calendar minute (weekday 0 = Sunday).
    public func matches(minute: Int, hour: Int, day: Int, month: Int, weekday: Int) -> Bool {
        guard minutes.contains(minute), hours.contains(hour), months.contains(month) else { return false }
        return dayMatches(day: day, weekday: weekday)
    }

    /// The first minute strictly after `date` at which the expression fires, or nil when it
    /// never fires within the next eight years (for example `0 0 31 2 *`). Evaluated in
    /// `zone`, a day at a time, so a yearly expression costs a few hundred steps, not half a
    /// million.
    public func next(after date: Date, in zone: TimeZone = CronExpression.utc) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        // The next whole minute after `date`.
        let firstMinute = (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60
        let start = Date(timeIntervalSince1970: firstMinute)
        guard var day = calendar.dateInterval(of: .day, for: start)?.start else { return nil }
        let sortedHours = hours.sorted(), sortedMinutes = minutes.sorted()
        for _ in 0..<(8 * 366) {
            let c = calendar.dateComponents([.day, .month, .weekday], from: day)
            if let d = c.day, let m = c.month, let w = c.weekday, months.contains(m), dayMatches(day: d, weekday: w - 1) {
                let ymd = calendar.dateComponents([.year, .month, .day], from: day)
                for hour in sortedHours {
                    for minute in sortedMinutes {
                        // The local wall-clock time, not an offset from midnight: a day with a
                        // daylight-saving change is 23 or 25 hours long.
                        let wall = DateComponents(year: ymd.year, month: ymd.month, day: ymd.day, hour: hour, minute: minute)
                        guard let candidate = calendar.date(from: wall) else { continue }
                        if candidate >= start { return candidate }
                    }
                }
            }
            guard let following = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = following
        }
        return nil
    }

    /// Classic cron: when both day fields are restricted, either may match.
    private func dayMatches(day: Int, weekday: Int) -> Bool {
        let domOK = daysOfMonth.contains(day)
        let dowOK = daysOfWeek.contains(weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return domOK || dowOK }
        return domOK && dowOK
    }

    private static func parseField(_ field: String, name: String, range: ClosedRange<Int>, names: [String], nameBase: Int = 0) throws(CronError) -> Set<Int> {
        var result = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let rangeText = pieces.first, !rangeText.isEmpty else {
                throw CronError(message: "cron \(name) field '\(field)' is malformed")
            }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else {
                    throw CronError(message: "cron \(name) field '\(field)' has an invalid step '\(pieces[1])'")
                }
                step = s
            }
            var lo = range.lowerBound
            var hi = range.upperBound
            if rangeText != "*" {
                let bounds = rangeText.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw CronError(message: "cron \(name) field '\(field)' is malformed") }
                lo = try value(String(bounds[0]), name: name, field: field, range: range, names: names, nameBase: nameBase)
                hi = bounds.count == 2 ? try value(String(bounds[1]), name: name, field: field, range: range, names: names, nameBase: nameBase) : (pieces.count == 2 ? range.upperBound : lo)
                guard lo <= hi else { throw CronError(message: "cron \(name) range '\(rangeText)' runs backwards") }
            }
            for v in stride(from: lo, through: hi, by: step) { result.insert(v) }
        }
        return result
    }

    private static func value(_ text: String, name: String, field: String, range: ClosedRange<Int>, names: [String], nameBase: Int) throws(CronError) -> Int {
        if let i = names.firstIndex(of: text.lowercased()) { return i + nameBase }
        guard let v = Int(text) else {
            throw CronError(message: "cron \(name) field '\(field)': '\(text)' is not a number")
        }
        guard range.contains(v) else {
            throw CronError(message: "cron \(name) \(v) is out of range \(range.lowerBound)-\(range.upperBound)")
        }
        return v
    }
}

public struct CronError: Error, Sendable {
    public var message: String
}
