import VolleyCore

/// A request step with the integer ids its figures are recorded under.
///
/// A class: a VU hands its current request around several times per request, and a
/// struct holding the whole `RequestStep` was copied (a dozen retains) every time.
final class CompiledRequest: Sendable {
    let step: RequestStep
    /// Index of the request name in `NameTable.requests`.
    let nameID: Int
    /// Index of each check ("name › check") in `NameTable.checks`, in step order.
    let checkIDs: [Int]
    /// The parts of the head that are the same for every request of this step.
    let prepared: PreparedRequest

    init(step: RequestStep, nameID: Int, checkIDs: [Int], defaults: PlanDefaults) {
        self.step = step
        self.nameID = nameID
        self.checkIDs = checkIDs
        self.prepared = PreparedRequest(step: step, defaults: defaults)
    }
}

/// Steps as VUs walk them: names resolved to ids once per run, so recording a response
/// indexes arrays instead of hashing strings (string keys measured at a third of the
/// scenario engine's CPU).
indirect enum CompiledStep: Sendable {
    case request(CompiledRequest)
    case think(ThinkTime)
    case group(id: Int, steps: [CompiledStep])
}

/// The names behind the ids, shared by every loop so their recorders merge by index.
struct NameTable: Sendable {
    var requests: [String] = []
    var checks: [String] = []
    var groups: [String] = []
    private var requestIDs: [String: Int] = [:]
    private var checkIDs: [String: Int] = [:]
    private var groupIDs: [String: Int] = [:]

    /// Compiles `steps`; steps with the same name share an id, as k6 aggregates by name.
    mutating func compile(_ steps: [Step], defaults: PlanDefaults) -> [CompiledStep] {
        steps.map { step in
            switch step {
            case .request(let r):
                let nameID = Self.intern(r.name, &requests, &requestIDs)
                var ids: [Int] = []
                for check in r.checks {
                    ids.append(Self.intern("\(r.name) › \(check.name)", &checks, &checkIDs))
                }
                return .request(CompiledRequest(step: r, nameID: nameID, checkIDs: ids, defaults: defaults))
            case .think(let t):
                return .think(t)
            case .group(let name, let inner, _):
                let id = Self.intern(name, &groups, &groupIDs)
                return .group(id: id, steps: compile(inner, defaults: defaults))
            }
        }
    }

    private static func intern(_ name: String, _ list: inout [String], _ ids: inout [String: Int]) -> Int {
        if let id = ids[name] { return id }
        list.append(name)
        ids[name] = list.count - 1
        return list.count - 1
    }
}
