import VolleyCore

/// `probes:` — the server side sampled during the run, as with `--probe`:
///
/// ```yaml
/// probes:
///   - http://127.0.0.1:8080/metrics
///   - { probe: "redis://127.0.0.1:6379", queues: [celery] }
///   - { probe: "http://127.0.0.1:9090/metrics", series: ["lab_db_pool_*"] }
/// ```
///
/// The kind of each probe is checked here; its address is parsed when the run starts (the
/// probe modules are not the plan's), and any error there still names this file:line:column.
extension PlanReader {
    static let probeKeys = ["probe", "queues", "series"]
    static let probeForms =
        "http://host:port/metrics, postgres://user@host:port/db, redis://host:port, pid:N, name:PROCESS or cgroup:PATH"

    func readProbes(_ node: PlanNode) -> [PlanProbe] {
        guard let items = list(node, "\"probes\"") else { return [] }
        return items.compactMap(readProbe)
    }

    private func readProbe(_ item: PlanNode) -> PlanProbe? {
        var specNode = item
        var queues: [String] = []
        var series: [String] = []
        if let pairs = item.pairs {
            let example = "{ probe: \"redis://127.0.0.1:6379\", queues: [celery] }"
            guard let node = mainValue(item, pairs, "probe", allowed: Self.probeKeys, example: example) else {
                return nil
            }
            specNode = node
            if let node = value(pairs, "queues") { queues = names(node, "queues") }
            if let node = value(pairs, "series") { series = names(node, "series") }
        }
        guard
            let spec = resolvedScalar(specNode, "a probe", expected: "a probe address such as http://host/metrics")?
                .text.trimmingSpaces()
        else { return nil }
        let lower = spec.lowercased()
        let kinds = ["http://", "https://", "postgres://", "postgresql://", "redis://", "rediss://"]
        guard kinds.contains(where: lower.hasPrefix) || ["pid:", "name:", "cgroup:"].contains(where: spec.hasPrefix)
        else {
            error(
                "unknown kind of probe \"\(Redaction.credentials(in: spec))\"",
                at: specNode.location,
                hint: "a probe is one of \(Self.probeForms) (see docs/probes.md)"
            )
            return nil
        }
        if !queues.isEmpty && !(lower.hasPrefix("redis://") || lower.hasPrefix("rediss://")) {
            error("\"queues\" applies to redis:// probes only", at: item.location, hint: "drop it, or probe Redis")
            return nil
        }
        if !series.isEmpty && !(lower.hasPrefix("http://") || lower.hasPrefix("https://")) {
            error(
                "\"series\" applies to Prometheus (http://…/metrics) probes only",
                at: item.location,
                hint: "drop it, or probe a /metrics endpoint"
            )
            return nil
        }
        return PlanProbe(spec, queues: queues, series: series, location: specNode.location)
    }

    /// A list of texts (or one text).
    private func names(_ node: PlanNode, _ key: String) -> [String] {
        oneOrMany(node).compactMap { text($0, key) }
    }
}
