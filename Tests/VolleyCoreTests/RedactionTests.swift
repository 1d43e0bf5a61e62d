import Testing
import VolleyCore

@Suite struct RedactionTests {
    @Test func secretHeaderValuesAreMaskedAndTheSchemeKept() {
        #expect(Redaction.header("Authorization: Bearer abc.def") == "Authorization: Bearer ***")
        #expect(Redaction.header("proxy-authorization: Basic dXNlcjpwdw==") == "proxy-authorization: Basic ***")
        #expect(Redaction.header("Authorization: abc") == "Authorization: ***")
        #expect(Redaction.header("Cookie: session=abc; theme=dark") == "Cookie: ***")
        #expect(Redaction.header("Set-Cookie: a=b") == "Set-Cookie: ***")
        #expect(Redaction.header("X-API-Key: k") == "X-API-Key: ***")
        #expect(Redaction.header("X-Auth-Token:t") == "X-Auth-Token: ***")
        #expect(Redaction.header("x-client-SECRET: s") == "x-client-SECRET: ***")
        #expect(Redaction.header("Accept: text/html") == "Accept: text/html")
        #expect(Redaction.header("Authorization:") == "Authorization:")
    }

    @Test func variablesNamedLikeCredentialsAreMasked() {
        for name in ["TOKEN", "api_token", "SECRET", "ApiKey", "DB_PASSWORD", "PASS", "AUTH_HEADER"] {
            #expect(Redaction.assignment("\(name)=v") == "\(name)=***")
        }
        #expect(Redaction.assignment("VUS=10") == "VUS=10")
        #expect(Redaction.assignment("TOKEN=") == "TOKEN=")
    }

    @Test func aCommandLineKeepsItsShapeWithoutItsSecrets() {
        let given = [
            "run", "http://127.0.0.1:8080/", "-H", "Authorization: Bearer t0k", "--header", "Cookie: s=c00kie",
            "--header=X-Api-Key: k3y", "-HX-Auth-Token: t2", "-H", "Accept: */*", "-e", "TOKEN=e1", "--env",
            "VUS=10", "--env=DB_PASSWORD=pw1", "--probe", "postgres://volley:pgpw@db:5432/app", "--probe",
            "redis://:redispw@127.0.0.1:6379", "--label", "a@b",
        ]
        #expect(
            Redaction.commandLine(given) == [
                "run", "http://127.0.0.1:8080/", "-H", "Authorization: Bearer ***", "--header", "Cookie: ***",
                "--header=X-Api-Key: ***", "-HX-Auth-Token: ***", "-H", "Accept: */*", "-e", "TOKEN=***", "--env",
                "VUS=10", "--env=DB_PASSWORD=***", "--probe", "postgres://***@db:5432/app", "--probe",
                "redis://***@127.0.0.1:6379", "--label", "a@b",
            ]
        )
    }
}
