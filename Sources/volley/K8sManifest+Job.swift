/// The Indexed Job: why each setting is there is said in docs/kubernetes.md.
extension K8sManifest {
    var job: K8sYAML {
        .map([
            ("apiVersion", .string("batch/v1")), ("kind", .string("Job")), ("metadata", metadata(name)),
            (
                "spec",
                .map([
                    // Pod i runs segment i; JOB_COMPLETION_INDEX tells it which.
                    ("completionMode", .string("Indexed")),
                    ("completions", .int(segments)),
                    // All at once: segment 0 waits for every segment before it announces the start.
                    ("parallelism", .int(segments)),
                    // A retried segment would send its share twice: no retry, ever.
                    ("backoffLimit", .int(0)),
                    ("activeDeadlineSeconds", .int(deadlineSeconds)),
                    ("podFailurePolicy", podFailurePolicy),
                    ("template", podTemplate),
                ])
            ),
        ])
    }

    /// Any non-zero exit of a segment fails the whole Job at once (the other pods are stopped),
    /// with the reason `PodFailurePolicy` on the Job's `Failed` condition.
    private var podFailurePolicy: K8sYAML {
        .map([
            (
                "rules",
                .list([
                    .map([
                        ("action", .string("FailJob")),
                        (
                            "onExitCodes",
                            .map([
                                ("containerName", .string("volley")), ("operator", .string("NotIn")),
                                ("values", .list([.int(0)])),
                            ])
                        ),
                    ])
                ])
            )
        ])
    }

    private var podTemplate: K8sYAML {
        .map([
            ("metadata", .map([("labels", labels)])),
            (
                "spec",
                .map([
                    ("restartPolicy", .string("Never")),
                    // With the headless Service of the same name, pod i is `<job>-i.<service>`.
                    ("subdomain", .string(serviceName)),
                    ("affinity", affinity),
                    ("topologySpreadConstraints", .list([zoneSpread])),
                    ("containers", .list([container])),
                    (
                        "volumes",
                        .list([
                            .map([
                                ("name", .string("plan")),
                                ("configMap", .map([("name", .string(configMapName)), ("items", volumeItems)])),
                            ]),
                            .map([("name", .string("work")), ("emptyDir", .map([]))]),
                        ])
                    ),
                ])
            ),
        ])
    }

    /// Each file at its relative path under `planDirectory`.
    private var volumeItems: K8sYAML {
        .list(
            files.enumerated().map { index, file in
                .map([("key", .string(Self.key(index))), ("path", .string(file.path))])
            }
        )
    }

    /// One segment per node when the cluster has room (client CPU and the network card are what
    /// a segment spends); preferred, not required, so a small cluster still runs the Job.
    private var affinity: K8sYAML {
        .map([
            (
                "podAntiAffinity",
                .map([
                    (
                        "preferredDuringSchedulingIgnoredDuringExecution",
                        .list([
                            .map([
                                ("weight", .int(100)),
                                (
                                    "podAffinityTerm",
                                    .map([
                                        ("labelSelector", .map([("matchLabels", labels)])),
                                        ("topologyKey", .string("kubernetes.io/hostname")),
                                    ])
                                ),
                            ])
                        ])
                    )
                ])
            )
        ])
    }

    /// Spread over zones when the nodes have zone labels (traffic from several zones); never
    /// blocks scheduling.
    private var zoneSpread: K8sYAML {
        .map([
            ("maxSkew", .int(1)), ("topologyKey", .string("topology.kubernetes.io/zone")),
            ("whenUnsatisfiable", .string("ScheduleAnyway")), ("labelSelector", .map([("matchLabels", labels)])),
        ])
    }

    private var container: K8sYAML {
        var pairs: [(String, K8sYAML)] = [
            ("name", .string("volley")), ("image", .string(image)), ("command", .list([.string("volley")])),
            ("args", .list(arguments.map { .string($0) })), ("env", .list(environment)),
            (
                "ports",
                .list([.map([("name", .string("rendezvous")), ("containerPort", .int(Self.rendezvousPort))])])
            ),
        ]
        var quantities: [(String, K8sYAML)] = []
        if let cpu { quantities.append(("cpu", .string(cpu))) }
        if let memory { quantities.append(("memory", .string(memory))) }
        if !quantities.isEmpty {
            // Requests equal to limits: a segment's latency figures should not depend on what
            // its neighbours burst to.
            pairs.append(("resources", .map([("requests", .map(quantities)), ("limits", .map(quantities))])))
        }
        pairs.append(
            (
                "volumeMounts",
                .list([
                    .map([
                        ("name", .string("plan")), ("mountPath", .string(Self.planDirectory)),
                        ("readOnly", .bool(true)),
                    ]),
                    .map([("name", .string("work")), ("mountPath", .string(Self.bundleDirectory))]),
                ])
            )
        )
        return .map(pairs)
    }

    /// `VOLLEY_SEGMENTS` (with Kubernetes' `JOB_COMPLETION_INDEX`, the segment), then the
    /// plan's variables: plain values inline, credentials from the Secret by reference.
    private var environment: [K8sYAML] {
        var out: [K8sYAML] = [.map([("name", .string("VOLLEY_SEGMENTS")), ("value", .string(String(segments)))])]
        for variable in variables {
            if variable.isSecret {
                let ref = K8sYAML.map([("name", .string(secretName)), ("key", .string(variable.name))])
                out.append(.map([("name", .string(variable.name)), ("valueFrom", .map([("secretKeyRef", ref)]))]))
            } else {
                out.append(.map([("name", .string(variable.name)), ("value", .string(variable.value))]))
            }
        }
        return out
    }
}
