import Foundation
import Synchronization
import VolleyCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Polls a readiness endpoint alongside the load, as the kubelet would: a fresh connection
/// per probe, a timeout, success for any status from 200 to 399.
///
/// The point is the incident in our users' reports: under load a readiness check that queries
/// the database slows down, fails three times in a row, and Kubernetes takes a healthy
/// instance out of the load balancer — moving its load onto the others.
public final class HealthWatcher: @unchecked Sendable {
    // Safety: `polls` is only touched under `lock`; `task` is set by `start` before `stop`.
    public let url: URL
    public let displayName: String
    public let period: Duration
    public let timeout: Duration
    public let failureThreshold: Int
    public let successThreshold: Int
    private let session: URLSession
    private let lock = NSLock()
    private var polls: [HealthPoll] = []
    private var task: Task<Void, Never>?

    public init(url: URL, period: Duration, timeout: Duration, failureThreshold: Int, successThreshold: Int = 1) {
        self.url = url
        displayName = ProbeFactory.redact(url.absoluteString)
        self.period = period
        self.timeout = timeout
        self.failureThreshold = failureThreshold
        self.successThreshold = successThreshold
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout.seconds + 2
        // A timed-out probe's request is left to end on its own (not cancelled, see
        // ``URLSession/uncancelledData(for:)``): the next probes must not queue behind it.
        configuration.httpMaximumConnectionsPerHost = 8
        session = URLSession(configuration: configuration)
    }

    /// One probe now. The timeout is enforced here, not by URLSession: Linux's URLSession
    /// treats sub-second timeouts as already expired, and the kubelet's are often 1 s or less.
    public func poll(at t: Double) async -> HealthPoll {
        var request = URLRequest(url: url, timeoutInterval: timeout.seconds + 2)
        request.setValue("close", forHTTPHeaderField: "Connection")
        request.setValue("volley-health-watch", forHTTPHeaderField: "User-Agent")
        let prepared = request
        let started = ContinuousClock.now
        let session = self.session
        let timeout = self.timeout
        let outcome: Outcome = await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            Task {
                do {
                    let (_, response) = try await session.uncancelledData(for: prepared)
                    once.resume(.answered((response as? HTTPURLResponse)?.statusCode ?? 0))
                } catch {
                    once.resume(.failed(Self.describe(error)))
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                // The request is not cancelled (``URLSession/uncancelledData(for:)``): the
                // session's own timeout ends it, and its answer is ignored.
                once.resume(.timedOut)
            }
        }
        let ms = (ContinuousClock.now - started).seconds * 1000
        switch outcome {
        case .answered(let status):
            let ok = (200..<400).contains(status)
            return HealthPoll(t: t, ok: ok, status: status, latencyMs: ms, error: ok ? nil : "HTTP \(status)")
        case .failed(let reason):
            return HealthPoll(t: t, ok: false, latencyMs: ms, error: reason)
        case .timedOut:
            return HealthPoll(t: t, ok: false, latencyMs: ms, error: "timeout after \(Self.text(timeout))")
        }
    }

    enum Outcome: Sendable {
        case answered(Int)
        case failed(String)
        case timedOut
    }

    /// The first of the answer and the timer wins; the other is ignored.
    final class ResumeOnce: Sendable {
        private let continuation: Mutex<CheckedContinuation<Outcome, Never>?>
        init(_ continuation: CheckedContinuation<Outcome, Never>) { self.continuation = Mutex(continuation) }
        func resume(_ outcome: Outcome) {
            let c = continuation.withLock { c -> CheckedContinuation<Outcome, Never>? in
                defer { c = nil }
                return c
            }
            c?.resume(returning: outcome)
        }
    }

    /// One probe before the load, untimed by the rules: it warms the HTTP client (its first
    /// request pays for setting up the session) and tells the user at once when the URL is
    /// wrong. Returns the poll, failed or not.
    @discardableResult
    public func check() async -> HealthPoll {
        _ = try? await session.uncancelledData(for: URLRequest(url: url))
        return await poll(at: 0)
    }

    /// Probes every period from `start`, the first probe at once.
    public func start(at start: ContinuousClock.Instant) {
        task = Task { [weak self] in
            var next = start
            while !Task.isCancelled {
                guard let self else { return }
                let t = (ContinuousClock.now - start).seconds
                let result = await self.poll(at: t)
                if Task.isCancelled, !result.ok { return }  // the run ended mid-probe: not a failure
                self.lock.withLock { self.polls.append(result) }
                next = next + self.period
                while next < .now { next = next + self.period }
                try? await Task.sleep(until: next, clock: .continuous)
            }
        }
    }

    public func stop() async -> HealthWatchResult {
        task?.cancel()
        await task?.value
        let polls = lock.withLock { self.polls }
        return HealthWatchResult(
            url: displayName,
            periodS: period.seconds,
            timeoutS: timeout.seconds,
            failureThreshold: failureThreshold,
            successThreshold: successThreshold,
            polls: polls
        )
    }

    static func text(_ d: Duration) -> String {
        let s = d.seconds
        return s >= 1 && s == s.rounded() ? "\(Int(s))s" : "\(Int((s * 1000).rounded()))ms"
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? URLError {
            switch e.code {
            case .cannotConnectToHost: return "connection refused"
            case .networkConnectionLost: return "connection closed"
            case .cannotFindHost: return "unknown host"
            default: return "error \(e.code.rawValue)"
            }
        }
        return String(describing: error)
    }
}
