// Interop: the seed's asyncio echo client (fixtures/echo_client.py, on Debian's /usr/bin/python3) with
// ssl= an SSLContext against our TLS server, over TLS 1.2 and 1.3, and with asyncio.open_unix_connection
// against our --unix server; every byte of the echo checked by the Python side. Skipped, saying why,
// where that Python or openssl (which makes the certificates) is missing.
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { certificateFiles } from "./certificates.ts"
import { opensslMissing, python, pythonMissing, startPeer } from "./interop.ts"
import { deadline, patience, run, start, type Test } from "./ServerProcess.ts"

const missing = pythonMissing ?? opensslMissing
if (missing !== undefined) console.warn(`interop-asyncio.test.ts: skipped: ${missing}`)
const title = `asyncio clients with ssl= and over a Unix socket against echo-server${
  missing === undefined ? "" : ` (skipped: ${missing})`
}`

const echoClient = fileURLToPath(new URL("fixtures/echo_client.py", import.meta.url))

interface Outcome {
  readonly ok: boolean
  readonly bytes: number
  readonly protocol: string | null
  readonly cipher: string | null
}

/** Runs the asyncio client to its end and reads its one JSON line. */
const asyncioClient = async (test: Test, args: ReadonlyArray<string>): Promise<Outcome> => {
  const peer = startPeer(test, python, [echoClient, ...args])
  const code = await deadline(peer.exit, patience, "the asyncio client")
  assert.strictEqual(code, 0, peer.stderr() + peer.stdout().toString())
  return JSON.parse(peer.stdout().toString()) as Outcome
}

describe.skipIf(missing !== undefined).concurrent(title, () => {
  it.for(["1.2", "1.3"])("ssl= with TLS %s: 256 KiB echoed byte for byte", async (version, test) => {
    const files = certificateFiles()
    const server = await start(test, ["--tls-cert", files.server.cert, "--tls-key", files.server.key])
    const outcome = await asyncioClient(test, [
      "--port",
      String(server.port),
      "--ca",
      files.ca,
      "--tls-version",
      version,
      "--size",
      String(256 * 1024)
    ])
    assert.deepInclude(outcome, { ok: true, bytes: 256 * 1024, protocol: `TLSv${version}` })
    const opened = await server.waitFor((log) => log.message === "Connection opened")
    assert.strictEqual(opened.annotations.tlsProtocol, `TLSv${version}`)
    assert.strictEqual(opened.annotations.tlsCipher, outcome.cipher)
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("ssl= with a client certificate (load_cert_chain) against --tls-ca", async (test) => {
    const files = certificateFiles()
    const server = await start(test, [
      "--tls-cert",
      files.server.cert,
      "--tls-key",
      files.server.key,
      "--tls-ca",
      files.ca
    ])
    const outcome = await asyncioClient(test, [
      "--port",
      String(server.port),
      "--ca",
      files.ca,
      "--cert",
      files.client.cert,
      "--key",
      files.client.key
    ])
    assert.isTrue(outcome.ok)
    const opened = await server.waitFor((log) => log.message === "Connection opened")
    assert.strictEqual(opened.annotations.clientCertificate, "CN=test client")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("asyncio.open_unix_connection against --unix: 1 MiB echoed, half-closed as the seed does", async (test) => {
    const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "echo-server-asyncio-"))
    test.onTestFinished(() => Fs.rmSync(folder, { recursive: true, force: true }))
    const path = Path.join(folder, "echo.sock")
    const server = run(test, ["--unix", path, "--log-format", "json"])
    await server.waitFor((log) => log.message === `Serving on ${path}`)
    const outcome = await asyncioClient(test, ["--unix", path, "--size", String(1024 * 1024)])
    assert.deepStrictEqual(outcome, { ok: true, bytes: 1024 * 1024, protocol: null, cipher: null })
    const closed = await server.waitFor((log) => log.message === "Connection closed")
    assert.strictEqual(closed.annotations.reason, "eof")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })
})
