// The client's TLS flags end to end: main.ts as a process against node:tls servers on 127.0.0.1
// (port 0), with the test certificates written to files when the tests run (openssl makes them).
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import type * as Summary from "../src/Summary.ts"
import { certificateFiles } from "./certificates.ts"
import { lines, rudeServer, run, server, type TestServer, tlsServer } from "./helpers.ts"

const files = certificateFiles()
const read = (file: string) => Fs.readFileSync(file)
const serverKeys = { cert: read(files.server.cert), key: read(files.server.key) }

const json = (stderr: string) => lines(stderr).map((line) => JSON.parse(line) as Record<string, any>)

/** The one line of a failure, in the pretty format. */
const failure = (stderr: string): string => {
  const all = lines(stderr).filter((line) => line.startsWith("echo-client:"))
  assert.strictEqual(all.length, 1, stderr)
  return all[0]!
}

/** Runs `body` against the server, closed whatever happens. */
const using = async <A>(started: Promise<TestServer>, body: (srv: TestServer) => Promise<A>): Promise<A> => {
  const srv = await started
  try {
    return await body(srv)
  } finally {
    await srv.close()
  }
}

describe.concurrent("echo --tls", () => {
  it("--tls --tls-ca: Hello World! over TLS, verified, exit 0", () =>
    using(tlsServer(serverKeys), async (srv) => {
      const result = await run(["--tls", "--tls-ca", files.ca, "--port", String(srv.port), "--log-format", "json"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString(), "Hello World!\n")
      const connected = json(result.stderr).find((entry) => entry.message === `connected to 127.0.0.1:${srv.port}`)!
      assert.strictEqual(connected.annotations.tlsProtocol, "TLSv1.3")
      assert.isString(connected.annotations.tlsCipher)
      assert.strictEqual(srv.received(), 12)
    }))

  it("--stdin: 4 MiB through a TLS echo intact", () =>
    using(tlsServer(serverKeys), async (srv) => {
      const input = randomBytes(4 * 1024 * 1024)
      const result = await run(["--stdin", "--tls", "--tls-ca", files.ca, "--port", String(srv.port)], { input })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.isTrue(result.stdout.equals(input))
    }))

  it("reads ECHO_TLS, ECHO_TLS_CA and ECHO_SERVERNAME", () =>
    using(tlsServer({ cert: read(files.otherHost.cert), key: read(files.otherHost.key) }), async (srv) => {
      const env = { ECHO_TLS: "true", ECHO_TLS_CA: files.ca, ECHO_SERVERNAME: "other.example" }
      const result = await run(["--port", String(srv.port)], { env })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString(), "Hello World!\n")
    }))

  it("--servername: the name the certificate must carry; another name is exit 9", () =>
    using(tlsServer({ cert: read(files.otherHost.cert), key: read(files.otherHost.key) }), async (srv) => {
      const args = ["--tls", "--tls-ca", files.ca, "--port", String(srv.port), "--log-format", "pretty"]
      assert.strictEqual((await run([...args, "--servername", "other.example"])).code, 0)
      const mismatch = await run(args)
      assert.strictEqual(mismatch.code, 9)
      assert.match(
        failure(mismatch.stderr),
        /^echo-client: SSLCertVerificationError: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: .*127\.0\.0\.1/
      )
    }))

  it.for<readonly [string, ReadonlyArray<string>, keyof typeof files, RegExp]>([
    [
      "a CA it does not trust (Node's own CAs)",
      [],
      "server",
      /unable to (get local issuer|verify the first) certificate/
    ],
    ["an expired certificate", ["--tls-ca", files.ca], "expired", /certificate has expired/],
    ["a self-signed certificate", ["--tls-ca", files.ca], "selfSigned", /self[- ]signed certificate/]
  ])(
    "%s: SSLCertVerificationError, one line, exit 9",
    ([, args, pair, words]) =>
      using(
        tlsServer({
          cert: read((files[pair] as { cert: string }).cert),
          key: read((files[pair] as { key: string }).key)
        }),
        async (srv) => {
          const result = await run(["--tls", ...args, "--port", String(srv.port), "--log-format", "pretty"])
          assert.strictEqual(result.code, 9)
          const line = failure(result.stderr)
          assert.match(
            line,
            /^echo-client: SSLCertVerificationError: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: /
          )
          assert.match(line, words)
          assert.include(line, `(127.0.0.1:${srv.port})`)
          assert.strictEqual(result.stdout.length, 0)
          assert.strictEqual(srv.received(), 0)
        }
      )
  )

  it("a plaintext echo server: its answer is no TLS, SSLError, exit 10", () =>
    using(server(), async (srv) => {
      const result = await run(["--tls", "--tls-ca", files.ca, "--port", String(srv.port), "--log-format", "pretty"])
      assert.strictEqual(result.code, 10)
      assert.match(failure(result.stderr), /^echo-client: SSLError: \[SSL: [A-Z_]+\] /)
    }))

  it("a server that closes during the handshake: SSLEOFError, exit 10", () =>
    using(rudeServer("close"), async (srv) => {
      const result = await run(["--tls", "--tls-ca", files.ca, "--port", String(srv.port), "--log-format", "pretty"])
      assert.strictEqual(result.code, 10)
      assert.match(failure(result.stderr), /^echo-client: SSLEOFError: \[SSL: UNEXPECTED_EOF_WHILE_READING\] /)
    }))

  it("a server that never answers the handshake: TimeoutError within --connect-timeout, exit 4", () =>
    using(rudeServer("silent"), async (srv) => {
      const started = Date.now()
      const result = await run([
        "--tls",
        "--tls-ca",
        files.ca,
        "--port",
        String(srv.port),
        "--connect-timeout",
        "0.3",
        "--log-format",
        "pretty"
      ])
      assert.strictEqual(result.code, 4)
      assert.isBelow(Date.now() - started, 20_000)
      assert.match(failure(result.stderr), /^echo-client: TimeoutError: .*TLS handshake timed out after 0\.3s/)
    }))

  it("--tls-cert and --tls-key for a server that requires a client certificate; without them: exit 10", () =>
    using(
      tlsServer({ ...serverKeys, ca: read(files.ca), requestCert: true, rejectUnauthorized: true }),
      async (srv) => {
        const args = ["--tls", "--tls-ca", files.ca, "--port", String(srv.port), "--log-format", "pretty"]
        const withCertificate = await run([...args, "--tls-cert", files.client.cert, "--tls-key", files.client.key])
        assert.strictEqual(withCertificate.code, 0, withCertificate.stderr)
        assert.strictEqual(withCertificate.stdout.toString(), "Hello World!\n")
        // over TLS 1.3 the refusal comes with the first read
        const without = await run(args)
        assert.strictEqual(without.code, 10, without.stderr)
        assert.match(failure(without.stderr), /^echo-client: SSLError: \[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED\] /)
      }
    ))

  it.for<readonly [string, ReadonlyArray<string>, Record<string, string>, string]>([
    ["--tls-ca without --tls", ["--tls-ca", files.ca], {}, "--tls-ca"],
    ["--servername without --tls", ["--servername", "localhost"], {}, "--servername"],
    ["ECHO_TLS_CA without --tls", [], { ECHO_TLS_CA: files.ca }, "--tls-ca"],
    ["a CA file that is missing", ["--tls", "--tls-ca", "/no/such/ca.pem"], {}, "--tls-ca"],
    ["a CA file that holds a key", ["--tls", "--tls-ca", files.client.key], {}, "--tls-ca"],
    ["--tls-cert without --tls-key", ["--tls", "--tls-cert", files.client.cert], {}, "--tls-key"],
    [
      "a key that does not match",
      ["--tls", "--tls-cert", files.client.cert, "--tls-key", files.server.key],
      {},
      "--tls-key"
    ],
    ["TLS over a Unix socket", ["--tls", "--unix", "/tmp/echo.sock"], {}, "--unix"],
    ["bench: --tls-ca without --tls", ["bench", "--tls-ca", files.ca], {}, "--tls-ca"]
  ])("%s: a usage error, one line, exit 2", async ([, args, env, named]) => {
    const result = await run(args, { env })
    assert.strictEqual(result.code, 2)
    const output = lines(result.stderr)
    assert.strictEqual(output.length, 1, result.stderr)
    assert.include(output[0], named)
    assert.notMatch(output[0]!, /[A-Za-z0-9+/]{48}/)
  })
})

describe.concurrent("bench --tls", () => {
  it.for([1, 2])(
    "--workers %i: the load runs over TLS, every echo checked",
    (workers) =>
      using(tlsServer(serverKeys), async (srv) => {
        const result = await run([
          "bench",
          "--tls",
          "--tls-ca",
          files.ca,
          "--servername",
          "localhost",
          "--port",
          String(srv.port),
          "--connections",
          "2",
          "--size",
          "512",
          "--workers",
          String(workers),
          "--duration",
          "0.5",
          "--warmup",
          "0",
          "--json"
        ])
        assert.strictEqual(result.code, 0, result.stderr)
        const summary = JSON.parse(result.stdout.toString()) as Summary.Summary
        assert.deepStrictEqual(summary.errors, {})
        assert.isAbove(summary.requests, 0)
        assert.isAtLeast(srv.received(), summary.bytes)
      })
  )
})
