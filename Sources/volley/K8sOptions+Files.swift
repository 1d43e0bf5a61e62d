import Foundation
import VolleyCore
import VolleyPlan

/// The files a plan reads (feeds, `body_file`), carried into the ConfigMap at the same paths
/// relative to the plan, so the pod loads the plan unchanged.
extension K8sOptions {
    /// A ConfigMap holds at most 1 MiB (Kubernetes refuses larger ones).
    static let configMapLimit = 1 << 20

    /// The plan's own bytes first (`plan.yaml`), then every feed and body file once.
    static func files(of plan: Plan, planPath: String, environment: [String: String]) throws -> [K8sManifest.File] {
        guard let planBytes = FileManager.default.contents(atPath: planPath) else {
            throw InputError("cannot read \"\(planPath)\"")
        }
        var out = [K8sManifest.File(path: "plan.yaml", bytes: Array(planBytes))]
        let directory = (planPath as NSString).deletingLastPathComponent
        let base = URL(fileURLWithPath: directory.isEmpty ? "." : directory).standardizedFileURL.path
        var seen: Set<String> = []
        let files = referencedFiles(plan)
        let absolute =
            files.isEmpty ? [] : try absolutelyNamed(planPath: planPath, base: base, environment: environment)
        for (what, path) in files where seen.insert(path).inserted {
            let relative = try relativePath(path, to: base, what: what)
            if absolute.contains(path) {
                throw InputError(
                    "\(what) \"\(path)\" is named by an absolute path",
                    hint:
                        "in the pods the plan is \(K8sManifest.planDirectory)/plan.yaml and its files sit beside it: name the file relative to the plan (\(relative))"
                )
            }
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw InputError("cannot read \(what) \"\(path)\"")
            }
            out.append(K8sManifest.File(path: relative, bytes: Array(bytes)))
        }
        let total = out.reduce(0) { $0 + $1.bytes.count }
        guard total <= configMapLimit else {
            throw InputError(
                "the plan and its files hold \(total) bytes; a ConfigMap holds at most \(configMapLimit) (1 MiB)",
                hint: "build the data files into the image, or split them, and refer to them by an absolute path"
            )
        }
        return out
    }

    /// Feed and body files by their resolved paths, in plan order.
    static func referencedFiles(_ plan: Plan) -> [(what: String, path: String)] {
        var out = plan.feeds.map { (what: "feed file", path: $0.path) }
        func visit(_ steps: [Step]) {
            for step in steps {
                switch step {
                case .request(let r):
                    if case .file(let path, _) = r.body { out.append((what: "body_file", path: path)) }
                case .group(_, let inner, _): visit(inner)
                case .think: break
                }
            }
        }
        visit(plan.setup)
        for s in plan.scenarios { visit(s.steps) }
        visit(plan.teardown)
        return out
    }

    /// The referenced files the plan names by an absolute path (directly or through `${...}`).
    /// The plan keeps only resolved paths, so it is loaded a second time with its directory
    /// reached through a symbolic link: a path written relative resolves through the link, an
    /// absolute one does not.
    private static func absolutelyNamed(
        planPath: String,
        base: String,
        environment: [String: String]
    ) throws
        -> Set<String>
    {
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("volley-k8s-\(UUID().uuidString)").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: base)
        defer { try? FileManager.default.removeItem(atPath: link) }
        let text =
            FileManager.default.contents(atPath: planPath).flatMap { String(validating: $0, as: UTF8.self) } ?? ""
        guard
            let again = try? PlanLoader.load(yaml: text, file: planPath, baseDirectory: link, environment: environment)
        else {
            throw InputError(
                "cannot tell where \(planPath) expects its feed and body files in the pods",
                hint: "name them by paths relative to the plan, without '..'"
            )
        }
        let prefix = link + "/"
        // An absolute path is the same in both loads, so it matches the first load's path.
        return Set(referencedFiles(again.plan).map(\.path).filter { !$0.hasPrefix(prefix) })
    }

    /// `path` below the plan's directory, as the mount path under /etc/volley. Files elsewhere
    /// (absolute paths, `../`) are refused: the pod would have to find them at the same place.
    private static func relativePath(_ path: String, to base: String, what: String) throws -> String {
        let prefix = base.hasSuffix("/") ? base : base + "/"
        guard path.hasPrefix(prefix) else {
            throw InputError(
                "\(what) \"\(path)\" is not below the plan's directory (\(base))",
                hint:
                    "volley k8s render mounts the plan's files beside it in the pods: move the file next to the plan and name it by a relative path"
            )
        }
        return String(path.dropFirst(prefix.count))
    }
}
