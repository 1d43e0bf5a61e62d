import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension URLSession {
    /// `data(for:)` in a task of its own, so that cancelling the caller does not cancel the
    /// request. On Linux (swift-corelibs-foundation), cancelling an async URLSession request
    /// while its answer is being delivered deadlocks: the cancellation holds the Swift task's
    /// status lock and waits for the session's queue, whose thread waits for that lock to
    /// resume the task. `ProbeSampler.stop()` cancels its sampling task, so a run with
    /// `--probe http://…` hung at its end, now and then (a full test run hung there, seen with
    /// a debugger). The request ends on its own instead: answered or timed out by the
    /// session's `timeoutIntervalForRequest`.
    func uncancelledData(for request: URLRequest) async throws -> (Data, URLResponse) {
        try await Task { try await self.data(for: request) }.value
    }
}
