import ArgumentParser
import Foundation
import VolleyCore
import VolleyPlan

/// The flags `volley k8s render` and `volley k8s run` share, and the checks that turn them and
/// the plan into a `K8sManifest`: everything is refused here, before kubectl sees anything.
struct K8sOptions: ParsableArguments {
    @Argument(help: "The plan file (YAML); it is validated first, as `volley validate` does.")
    var plan: String

    @Option(help: "The number of segments: pods of the Indexed Job (1…\(K8sManifest.maxSegments)).")
    var segments: Int

    @Option(help: "The container image holding the volley binary on its PATH (see docs/kubernetes.md).")
    var image = "volley:latest"

    @Option(help: "The Job's name (and the Service's); a DNS-1123 label. Default: volley-<plan name>.")
    var name: String?

    @Option(help: "The namespace of every object; default: kubectl's current one.")
    var namespace: String?

    @Option(help: "CPU per segment, requested and limited (a Kubernetes quantity: 2, 500m).")
    var cpu: String?

    @Option(help: "Memory per segment, requested and limited (a Kubernetes quantity: 1Gi, 512Mi).")
    var memory: String?

    @Option(help: "The Job's activeDeadlineSeconds as a duration; default: the plan's length + 2m.")
    var deadline: String?

    @Option(
        name: [.customShort("e"), .customLong("env")],
        help: ArgumentHelp(
            "Set ${NAME} for the plan (repeatable), here and in the pods; credentials go through a Secret.",
            valueName: "NAME=value"
        )
    )
    var variables: [String] = []

    /// The margin added to the plan's length: image pulls, scheduling, the start barrier and the
    /// merge at the end all happen inside the deadline.
    static let deadlineMargin = 120

    /// A DNS-1123 label: what Kubernetes accepts as a Service name and a hostname.
    static func isDNSLabel(_ text: String) -> Bool {
        guard (1...63).contains(text.utf8.count), let first = text.utf8.first, let last = text.utf8.last else {
            return false
        }
        func alnum(_ c: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (48...57).contains(c) }
        return alnum(first) && alnum(last) && text.utf8.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// A Kubernetes resource quantity in the forms people write (`2`, `0.5`, `500m`, `1Gi`).
    static func isQuantity(_ text: String) -> Bool {
        let suffixes = ["m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", ""]
        guard let suffix = suffixes.first(where: { text.hasSuffix($0) }) else { return false }
        let number = text.dropLast(suffix.count)
        guard let value = Double(number), value > 0, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") })
        else { return false }
        return true
    }

    /// The default name: `volley-` and the plan's name reduced to a DNS label that leaves room
    /// for the pod index.
    static func defaultName(planName: String, room: Int) -> String {
        var slug = ""
        for c in planName.lowercased().unicodeScalars {
            let ok = c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))
            if ok { slug.unicodeScalars.append(c) } else if !slug.hasSuffix("-") { slug += "-" }
        }
        var name = "volley-" + slug.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        name = String(name.prefix(room))
        while name.hasSuffix("-") { name.removeLast() }
        return name
    }

    /// Checks the flags, loads and validates the plan with only the `-e` variables (the pods see
    /// nothing else), and collects the files it reads.
    func makeManifest() throws -> K8sManifest {
        guard (1...K8sManifest.maxSegments).contains(segments) else {
            throw InputError(
                "--segments must be from 1 to \(K8sManifest.maxSegments), got \(segments)",
                hint: "one pod per segment; segment 0 collects every other segment's bundle"
            )
        }
        // The pods' hostnames are `<name>-<index>`, and a hostname is a DNS label too.
        let room = 63 - 1 - String(segments - 1).count
        let variables = try Self.parseVariables(self.variables)
        let environment = Dictionary(variables.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        let loaded = try loadPlan(environment: environment)
        let jobName = name ?? Self.defaultName(planName: loaded.plan.name, room: room)
        guard Self.isDNSLabel(jobName), jobName.count <= room else {
            throw InputError(
                "--name \"\(jobName)\" is not a DNS-1123 label of at most \(room) characters",
                hint:
                    "lower-case letters, digits and '-', starting and ending with a letter or digit (the pods are named \(jobName)-0…\(segments - 1))"
            )
        }
        if let namespace, !Self.isDNSLabel(namespace) {
            throw InputError(
                "--namespace \"\(namespace)\" is not a DNS-1123 label",
                hint: "lower-case letters, digits and '-', at most 63 characters"
            )
        }
        guard !image.isEmpty, !image.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 32 } == true })
        else {
            throw InputError("--image \"\(image)\" is not an image reference", hint: "e.g. registry.example/volley:1.0")
        }
        for (flag, value) in [("--cpu", cpu), ("--memory", memory)] {
            if let value, !Self.isQuantity(value) {
                throw InputError(
                    "\(flag) \"\(value)\" is not a Kubernetes quantity",
                    hint: "e.g. --cpu 2 or 500m, --memory 1Gi"
                )
            }
        }
        let planned = Int(loaded.plan.plannedDuration.seconds.rounded(.up))
        let deadlineSeconds = try self.deadlineSeconds(planned: planned)
        let files = try Self.files(of: loaded.plan, planPath: plan, environment: environment)
        if !loaded.plan.literalSecrets.isEmpty {
            Terminal.writeError(
                "volley: warning: \(plan) holds \(loaded.plan.literalSecrets.count) literal credential(s); "
                    + "they go into the ConfigMap as written: write ${NAME} in the plan and pass -e NAME=… to keep them in a Secret\n"
            )
        }
        return K8sManifest(
            name: jobName,
            namespace: namespace,
            segments: segments,
            image: image,
            deadlineSeconds: deadlineSeconds,
            cpu: cpu,
            memory: memory,
            files: files,
            variables: variables
        )
    }

    private func deadlineSeconds(planned: Int) throws -> Int {
        guard let deadline else { return planned + Self.deadlineMargin }
        let seconds = Int(try DurationText.parse(deadline).seconds.rounded(.up))
        guard seconds > planned else {
            throw InputError(
                "--deadline \(deadline) is not longer than the plan (\(planned) s)",
                hint: "Kubernetes would stop the pods before the plan ends; leave room for pulls and the start barrier"
            )
        }
        return seconds
    }

    /// `-e NAME=value` as pod environment variables (a name Kubernetes accepts, not one Volley
    /// sets itself).
    static func parseVariables(_ items: [String]) throws -> [K8sManifest.Variable] {
        let pairs = try PlanEnvironment.make(overrides: items, base: [:])
        var out: [K8sManifest.Variable] = []
        for item in items {
            let name = String(item.prefix { $0 != "=" })
            guard !out.contains(where: { $0.name == name }), let value = pairs[name] else { continue }
            let valid =
                name.first.map { !$0.isNumber } == true
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
            guard valid, !["VOLLEY_SEGMENTS", "JOB_COMPLETION_INDEX"].contains(name) else {
                throw InputError(
                    "-e \(name): not a variable the pods can be given",
                    hint:
                        "letters, digits, '_', '.' and '-', not starting with a digit; VOLLEY_SEGMENTS and JOB_COMPLETION_INDEX are set by the Job"
                )
            }
            out.append(K8sManifest.Variable(name: name, value: value))
        }
        return out
    }

    /// The plan as `volley validate` loads it; its problems are printed as `validate` prints
    /// them, and the command exits 2.
    private func loadPlan(environment: [String: String]) throws -> LoadedPlan {
        do {
            let loaded = try PlanLoader.load(path: plan, environment: environment)
            for w in loaded.warnings { Terminal.writeError(w.description + "\n") }
            return loaded
        } catch {
            Terminal.writeError(ValidateCommand.render(error.diagnostics, color: false))
            let errors = error.diagnostics.filter { $0.severity == .error }.count
            throw CLIError(
                message: "\(plan) is not valid: \(ValidateCommand.plural(errors, "error"))",
                hint: "volley k8s render checks the plan with only the -e variables given: the pods see no others",
                code: .usage
            )
        }
    }
}
