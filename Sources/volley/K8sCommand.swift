import ArgumentParser
import Foundation
import VolleyCore

/// `volley k8s`: a distributed run as a Kubernetes Indexed Job (docs/kubernetes.md).
struct K8sCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "k8s",
        abstract: "Run a plan as N segments on Kubernetes: render the Job, or apply it and wait.",
        subcommands: [K8sRenderCommand.self, K8sRunCommand.self]
    )
}

/// `volley k8s render PLAN --segments N`: the manifests, for review or for a GitOps pipeline.
struct K8sRenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the ConfigMap, headless Service and Indexed Job of a distributed run.",
        discussion: """
            The plan is validated first (exit 2 when it is not valid). Variables given with -e go to the \
            pods as environment variables; those whose names say they hold a credential (TOKEN, SECRET, \
            KEY, PASSWORD, AUTH…) go into a Secret written only with --secret-out, never to stdout.

            Examples:
              volley k8s render plan.yaml --segments 4 --image registry.example/volley:1.0 | kubectl apply -f -
              volley k8s render plan.yaml --segments 8 -e ENDPOINT=http://api:8080 -o job.yaml
            """
    )

    @OptionGroup var options: K8sOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write the manifests to this file, not stdout.")
    var output: String?

    @Option(help: "Write the Secret holding the credential variables to this file (mode 0600).")
    var secretOut: String?

    func run() throws {
        let manifest = try options.makeManifest()
        if let secret = manifest.secretDocument {
            guard let secretOut else {
                let names = manifest.secretVariables.map(\.name).joined(separator: ", ")
                throw InputError(
                    "\(names) look\(manifest.secretVariables.count == 1 ? "s" : "") like credentials: they go in a Secret, which is never printed",
                    hint:
                        "add --secret-out secret.yaml and apply it too (kubectl apply -f secret.yaml), or use volley k8s run, which applies it without printing it"
                )
            }
            try Self.write(secret, to: secretOut, permissions: 0o600)
        }
        if let output {
            try Self.write(manifest.rendered, to: output, permissions: 0o644)
            Terminal.writeError("wrote \(output) (ConfigMap, Service and Job \(manifest.name))\n")
        } else {
            Terminal.writeOut(manifest.rendered)
        }
    }

    static func write(_ text: String, to path: String, permissions: Int) throws {
        let created = FileManager.default.createFile(
            atPath: path,
            contents: Data(text.utf8),
            attributes: [.posixPermissions: permissions]
        )
        guard created else {
            throw InputError("cannot write \"\(path)\"", hint: "check the directory exists and is writable")
        }
        // createFile keeps an existing file's mode: a Secret file must not stay world-readable.
        try? FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
    }
}
