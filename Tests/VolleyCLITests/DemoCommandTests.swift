import Foundation
import Testing

/// `volley demo` and `volley lab` through the real binary.
@Suite(.serialized) struct DemoCommandTests {
    @Test func quickDemoTellsTheStoryAndWritesItsArtifacts() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("volley-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(["demo", "--quick", "--out", out.path], limit: 60, home: home)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        for heading in [
            "1. The target", "2. Raising the load", "3. What happened", "One knob: cache on",
            "One knob: bigger pool", "Artifacts in \(out.path)/",
        ] {
            #expect(r.stdout.contains(heading), "missing \(heading)")
        }

        // Its runs are in the history, and its before/after reports are written.
        let history = try runVolley(["history", "--label", "demo", "--json"], home: home)
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
        #expect(saved.count == 7)  // 3 baseline levels, 2 × 2 knob levels
        #expect(try runVolley(["experiments"], home: home).stdout.contains("sweep     "))
        for report in ["report-before.html", "report-cache-on.html", "report-sweep.html"] {
            let html = try String(contentsOf: out.appendingPathComponent(report), encoding: .utf8)
            #expect(html.contains("<svg"), "\(report)")
        }

        let data = try Data(contentsOf: out.appendingPathComponent("demo.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let baseline = try #require(report["baseline"] as? [[String: Any]])
        #expect(baseline.map { $0["connections"] as? Int } == [1, 4, 32])
        for step in baseline {
            let file = try #require(step["summary_file"] as? String)
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file)")
        }
        // The constrained pool (2 + 2) is full at 32 connections, with requests queued behind it.
        let top = try #require(baseline.last?["pool"] as? [String: Any])
        #expect(top["max_checked_out"] as? Int == 4)
        #expect((top["max_waiting"] as? Int ?? 0) > 0)
        // The diagnosis names the pool from the probes alone, in the output and in demo.json.
        #expect(r.stdout.contains("Diagnosis"))
        #expect(r.stdout.contains("Database connection pool saturated"))
        #expect(r.stdout.contains("Health watch"))
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["id"] as? String == "pool-saturation" })
        #expect(!findings.contains { $0["id"] as? String == "generator-bound" })
        // Each step is saved with its probe, so `volley diagnose` reads it back.
        let diagnose = try runVolley(["diagnose", "last~4", "--json"], home: home)
        #expect(diagnose.status == 0, "\(diagnose.stderr)")
        #expect(diagnose.stdout.contains("pool-saturation"), "\(diagnose.stdout)")

        // The journey plan ran against both labs and its file can be run again.
        let journey = try #require(report["journey"] as? [[String: Any]])
        #expect(journey.map { $0["lab"] as? String } == ["as it was", "cache on"])
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("journey.yaml").path))
        for run in journey {
            #expect((run["thresholds"] as? [Any])?.count == 4, "three on the load, one on the plan's probe")
            let names = (run["requests"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
            #expect(names.contains("DELETE /api/v1/todos/{id}"))
        }
        let validate = try runVolley(["validate", out.appendingPathComponent("journey.yaml").path])
        #expect(validate.status == 0, "\(validate.stderr)")

        let comparisons = try #require(report["comparisons"] as? [[String: Any]])
        #expect(comparisons.map { $0["knob"] as? String } == ["cache on", "bigger pool"])
        let baselineTop = try #require(baseline.last?["goodput"] as? Double)
        for comparison in comparisons {
            let steps = try #require(comparison["steps"] as? [[String: Any]])
            let after = try #require(steps.last?["goodput"] as? Double)
            #expect(after > baselineTop * 1.5, "\(comparison["knob"] ?? "")")
        }
    }

    @Test func demoRefusesBadLevels() throws {
        let r = try runVolley(["demo", "--levels", "1,x"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--levels"))
    }

    @Test func labRefusesBadKnobsWithTheFlagName() throws {
        let pool = try runVolley(["lab", "--pool-size", "0"])
        #expect(pool.status == 2)
        #expect(pool.stderr.contains("--pool-size"))
        let cache = try runVolley(["lab", "--cache", "maybe"])
        #expect(cache.status == 2)
        #expect(cache.stderr.contains("--cache"))
        let latency = try runVolley(["lab", "--query-latency", "fast"])
        #expect(latency.status == 2)
        #expect(latency.stderr.contains("--query-latency"))
    }

    @Test func labServesUntilInterrupted() throws {
        let r = try runVolley(["lab", "--port", "0", "--businesses", "100"], interruptAfter: 2, limit: 15)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("volley lab listening on http://127.0.0.1:"))
        #expect(r.stderr.contains("pool          size 5 + overflow 10, timeout 30s"))
    }
}
