import VolleyCore

/// One group of client backends from `pg_stat_activity` that share a client, a state and a
/// wait event, as the probe's statistics query returns them (JSON, so that one round trip
/// carries them with the server-wide numbers).
struct PostgresActivityGroup: Decodable, Sendable, Equatable {
    var app: String?
    var user: String?
    var addr: String?
    var state: String?
    var waitType: String?
    var waitEvent: String?
    var count: Double
    /// Seconds since the oldest active query of the group started; 0 when none is active.
    var queryAge: Double
    /// Seconds since the oldest open transaction of the group started; 0 when none is open.
    var transactionAge: Double

    enum CodingKeys: String, CodingKey {
        case app
        case user = "usr"
        case addr, state
        case waitType = "wtype"
        case waitEvent = "wevent"
        case count = "n"
        case queryAge = "query_age"
        case transactionAge = "xact_age"
    }

    var isActive: Bool { state == "active" }
}

/// Turns each reading of the client backends into the per-client, wait-event and age series,
/// and keeps what must hold across the run: which clients have their own series (a client
/// keeps it once given, and reads 0 after it leaves, so its line does not just stop), which
/// wait types were seen, and how often each wait event was seen for the notes.
///
/// A value without I/O, so that the rules it applies are tested with plain calls.
struct PostgresActivityTracker: Sendable {
    typealias Series = ProbeSeries.Postgres

    /// Clients with their own series; the rest are summed under `other`.
    static let maxClients = 10

    /// Clients with their own series, in the order they got it.
    private(set) var named: [String] = []
    private var sawOther = false
    private var seenWaitTypes: Set<String> = []
    /// `Type/event` (or `running`) → backend-samples seen active in it.
    private(set) var waitEvents: [String: Double] = [:]

    private struct Counts {
        var values: [Series.ClientField: Double] = [:]
        mutating func add(_ field: Series.ClientField, _ n: Double) { values[field, default: 0] += n }
    }

    /// The series of one reading.
    mutating func record(_ groups: [PostgresActivityGroup]) -> [String: Double] {
        var byClient: [String: Counts] = [:]
        var series: [String: Double] = [:]
        var waits: [String: Double] = [:]
        var oldestQuery = 0.0
        var oldestTransaction = 0.0
        for group in groups {
            let label = Series.clientLabel(applicationName: group.app, user: group.user, address: group.addr)
            var counts = byClient[label] ?? Counts()
            counts.add(.connections, group.count)
            switch group.state {
            case "active":
                counts.add(.active, group.count)
                if group.waitType == "Lock" { counts.add(.waitingLock, group.count) }
            case "idle":
                counts.add(.idle, group.count)
            case let state? where state.hasPrefix("idle in transaction"):
                counts.add(.idleInTransaction, group.count)
            default:
                break
            }
            byClient[label] = counts
            if group.isActive {
                let type = group.waitType?.lowercased() ?? "cpu"
                waits[type, default: 0] += group.count
                let event = group.waitType.map { "\($0)/\(group.waitEvent ?? "?")" } ?? "running"
                waitEvents[event, default: 0] += group.count
                oldestQuery = max(oldestQuery, group.queryAge)
            }
            oldestTransaction = max(oldestTransaction, group.transactionAge)
        }

        // New clients get their own series while there is room, the busiest first.
        let newcomers = byClient.filter { !named.contains($0.key) && $0.key != Series.otherClient }
            .sorted { ($0.value.values[.connections] ?? 0, $1.key) > ($1.value.values[.connections] ?? 0, $0.key) }
        for (label, _) in newcomers where named.count < Self.maxClients { named.append(label) }
        var other = Counts()
        for (label, counts) in byClient where !named.contains(label) {
            sawOther = true
            for (field, n) in counts.values { other.add(field, n) }
        }
        for label in named {
            let counts = byClient[label] ?? Counts()
            for field in Series.ClientField.allCases { series[Series.client(label, field)] = counts.values[field] ?? 0 }
        }
        if sawOther {
            for field in Series.ClientField.allCases {
                series[Series.client(Series.otherClient, field)] = other.values[field] ?? 0
            }
        }

        seenWaitTypes.formUnion(waits.keys.filter { $0 != "cpu" })
        for type in Set(Series.standardWaitTypes).union(seenWaitTypes) { series[Series.wait(type)] = waits[type] ?? 0 }
        series[Series.waitCPU] = waits["cpu"] ?? 0
        series[Series.oldestQuerySeconds] = oldestQuery
        series[Series.oldestTransactionSeconds] = oldestTransaction
        return series
    }

    /// `wait events of active queries over the run: Lock/transactionid 61 %, …` for the five
    /// most frequent, or nil when no client query was ever seen running.
    func waitEventsNote(limit: Int = 5) -> String? {
        let total = waitEvents.values.reduce(0, +)
        guard total > 0 else { return nil }
        let top = waitEvents.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(limit)
        let parts = top.map { "\($0.key) \(Int(($0.value / total * 100).rounded())) %" }
        return "wait events of active queries over the run: " + parts.joined(separator: ", ")
    }
}
