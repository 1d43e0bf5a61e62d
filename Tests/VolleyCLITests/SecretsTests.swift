import Foundation
import Testing
import VolleyTestSupport

/// Credentials given on the command line never reach an output: the terminal summary, JSON,
/// the history file, `show`, the HTML reports, `export`, the samples, the experiments.
@Suite(.serialized) struct SecretsTests {
    /// Every secret ends in a marker no output would contain by chance.
    private let secrets = [
        "AUTHSECRET41", "COOKIESECRET42", "APIKEYSECRET43", "PGSECRET44", "REDISSECRET45", "ENVSECRET46",
        "ENVSECRET47", "TIMESECRET48", "PLANSECRET49", "PLANSECRET50",
    ]

    @Test func noOutputChannelShowsACredential() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        let dir = home + "-files"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: home)
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: home + "-plan.yaml")
        }
        var shown: [String: String] = [:]
        let url = try runVolley(
            [
                "run", server.baseURL + "/", "-c", "1", "-n", "20", "--json", "-q",
                "-H", "Authorization: Bearer AUTHSECRET41", "--header", "Cookie: session=COOKIESECRET42",
                "--header=X-Api-Key: APIKEYSECRET43",
                "--probe", "postgres://volley:PGSECRET44@127.0.0.1:1/db",
                "--probe", "redis://:REDISSECRET45@127.0.0.1:1",
                "--html", dir + "/url.html", "--out", dir + "/url.jsonl",
            ],
            home: home
        )
        #expect(url.status == 0, "\(url.stderr)")
        shown["run --json stdout"] = url.stdout
        shown["run terminal summary and warnings"] = url.stderr

        // The plan holds secrets itself: it is written outside the folders searched below.
        let plan = home + "-plan.yaml"
        try """
        base_url: \(server.baseURL)
        defaults:
          headers:
            Authorization: Bearer ${API_TOKEN}
            X-Db: ${DB_PASSWORD}
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: 5
            steps:
              - request: GET /
                headers: { X-Api-Key: PLANSECRET49, Cookie: "a=PLANSECRET50" }
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let planRun = try runVolley(
            [
                "run", plan, "-e", "API_TOKEN=ENVSECRET46", "--env=DB_PASSWORD=ENVSECRET47",
                "--html", dir + "/plan.html", "--out", dir + "/plan.jsonl",
            ],
            home: home
        )
        #expect(planRun.status == 0, "\(planRun.stderr)")
        shown["plan run terminal summary"] = planRun.stdout + planRun.stderr

        let timed = try runVolley(
            ["time", server.baseURL + "/", "-n", "5", "-r", "1", "-H", "Authorization: Token TIMESECRET48"],
            home: home
        )
        #expect(timed.status == 0, "\(timed.stderr)")
        shown["time"] = timed.stdout + timed.stderr
        try await server.shutdown()

        let commands: [[String]] = [
            ["show", "1"], ["show", "2"], ["show", "1", "--json"], ["show", "2", "--plan"], ["history"],
            ["history", "--json"], ["export", "1"], ["export", "2", "--format", "csv"],
            ["export", "2", "--format", "csv", "--table", "requests"], ["export", "1", "--format", "junit"],
            ["report", "1", "--html", dir + "/report1.html"], ["report", "2", "--html", dir + "/report2.html"],
            ["experiments"], ["experiment", "E1", "--html", dir + "/experiment.html"],
        ]
        for args in commands {
            let r = try runVolley(args, home: home)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            shown[args.joined(separator: " ")] = r.stdout + r.stderr
        }
        // Files written by the runs and the commands, and the history's own files (the
        // database, its WAL and anything else in the directory), as bytes.
        for folder in [dir, home] {
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isDirectory)
                if isDirectory.boolValue { continue }
                let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
                shown["file \(name)"] = String(decoding: data, as: UTF8.self)
            }
        }
        #expect(shown.keys.contains("file history.sqlite"), "\(shown.keys.sorted())")
        for (channel, text) in shown {
            for secret in secrets {
                #expect(!text.contains(secret), "\(secret) in \(channel)")
            }
        }
        // What was redacted still says what was given.
        let show = shown["show 1"] ?? ""
        #expect(show.contains("-H Authorization: Bearer *** --header Cookie: *** --header=X-Api-Key: ***"), "\(show)")
        #expect(show.contains("postgres://***@127.0.0.1:1/db") && show.contains("redis://***@127.0.0.1:1"))
        #expect(shown["show 2"]?.contains("-e API_TOKEN=*** --env=DB_PASSWORD=***") == true)
        #expect(shown["show 2 --plan"]?.contains("headers: { X-Api-Key: ***, Cookie: \"***\" }") == true)
        #expect(shown["show 2 --plan"]?.contains("Authorization: Bearer ${API_TOKEN}") == true)
        #expect(shown["file report1.html"]?.contains("Authorization: Bearer ***") == true)
    }
}
