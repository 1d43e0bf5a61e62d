import Synchronization
import VolleyCore
import VolleyReport

/// Serialises progress updates from the engine's ticker to stderr.
final class ProgressBox: Sendable {
    private let renderer: Mutex<ProgressRenderer>
    private let enabled: Bool

    init(_ renderer: ProgressRenderer, enabled: Bool) {
        self.renderer = Mutex(renderer)
        self.enabled = enabled
    }

    func update(_ entry: VolleyCore.TimelineEntry) {
        guard enabled else { return }
        let text = renderer.withLock { $0.update(with: entry) }
        Terminal.writeError(text)
    }

    func finish() {
        guard enabled else { return }
        Terminal.writeError(renderer.withLock { $0.finish() })
    }
}
