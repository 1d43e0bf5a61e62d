import Foundation
import VolleyCore

@testable import VolleyEngine

/// `volley run URL --h2c/--http2 -m N` through the URL engine, as the HTTP/2 suites run it.
func runH2(
    _ url: String,
    http: HTTPProtocolChoice = .h2c,
    streams: Int,
    model: LoadModel,
    threads: Int = 1,
    insecure: Bool = false,
    timeout: Duration = .seconds(10),
    follow: Int = 0,
    fallback: Bool = false
) async throws -> RunSummary {
    var config = RunConfiguration(
        request: RequestSpec(url: try TargetURL(parsing: url)),
        model: model,
        threads: threads,
        requestTimeout: timeout,
        insecure: insecure
    )
    config.http = http
    config.streams = streams
    config.followRedirects = follow
    config.http1Fallback = fallback
    return try await LoadEngine(configuration: config).run()
}

/// `-c connections -n requests`.
func closedH2(_ connections: Int, requests: Int) -> LoadModel {
    .closed(connections: connections, limit: .requests(requests))
}
