// Interop: our client against the seed's asyncio echo server (fixtures/echo_server.py, on Debian's
// /usr/bin/python3) with ssl= an SSLContext, over TLS 1.2 and 1.3, every byte of the echo checked by
// our client. Skipped, saying why, where that Python or openssl (which makes the certificates) is missing.
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { certificateFiles } from "./certificates.ts"
import { lines, run } from "./helpers.ts"
import { opensslMissing, type Peer, python, pythonMissing, startPeer, type Test } from "./interop.ts"

const missing = pythonMissing ?? opensslMissing
if (missing !== undefined) console.warn(`interop-asyncio.test.ts: skipped: ${missing}`)
const title = `echo-client --tls against an asyncio server with ssl=${
  missing === undefined ? "" : ` (skipped: ${missing})`
}`

const echoServer = fileURLToPath(new URL("fixtures/echo_server.py", import.meta.url))

/** The asyncio server, and its port once it listens. */
const asyncioServer = async (test: Test, args: ReadonlyArray<string>): Promise<[Peer, string]> => {
  const files = certificateFiles()
  const peer = startPeer(test, python, [echoServer, "--cert", files.server.cert, "--key", files.server.key, ...args])
  const [, port] = await peer.stdoutMatches(/^(\d+)\n/)
  return [peer, port!]
}

/** What the server said of each connection it served (one JSON line each, after its port). */
const served = (peer: Peer) =>
  lines(peer.stdout().toString()).slice(1).map((line) => JSON.parse(line) as { bytes: number; protocol: string })

describe.skipIf(missing !== undefined).concurrent(title, () => {
  it.for(["1.2", "1.3"])("TLS %s: --stdin, 4 MiB through asyncio intact", async (version, test) => {
    const [peer, port] = await asyncioServer(test, ["--tls-version", version])
    const files = certificateFiles()
    // from a file, as `< file` gives it: read faster than the echo comes back, so that the end of input
    // comes while most of the echo is still on its way
    const input = randomBytes(4 * 1024 * 1024)
    const inputFile = Path.join(files.dir, `input-${version}.bin`)
    Fs.writeFileSync(inputFile, input)
    const result = await run(["--stdin", "--tls", "--tls-ca", files.ca, "--port", port, "--log-format", "json"], {
      stdinFile: inputFile
    })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.isTrue(result.stdout.equals(input), `${result.stdout.length} of ${input.length} bytes`)
    const connected = lines(result.stderr).map((line) => JSON.parse(line) as Record<string, any>)[0]!
    assert.strictEqual(connected.annotations.tlsProtocol, `TLSv${version}`)
    await peer.stdoutMatches(/\n\{[^\n]*\}\n/)
    assert.deepStrictEqual(served(peer), [{ bytes: input.length, protocol: `TLSv${version}` }])
  })

  it("a slow server: --stdin closes only once the echo is back (asyncio drops what it has not written)", async (test) => {
    const [peer, port] = await asyncioServer(test, ["--tls-version", "1.2", "--delay", "0.05"])
    const input = randomBytes(512 * 1024)
    const result = await run(["--stdin", "--tls", "--tls-ca", certificateFiles().ca, "--port", port], { input })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.isTrue(result.stdout.equals(input), `${result.stdout.length} of ${input.length} bytes`)
    await peer.stdoutMatches(/\n\{[^\n]*\}\n/)
    assert.deepStrictEqual(served(peer), [{ bytes: input.length, protocol: "TLSv1.2" }])
  })

  it("the seed's exchange: Hello World!, three times on one connection", async (test) => {
    const [, port] = await asyncioServer(test, [])
    const result = await run(["--count", "3", "--tls", "--tls-ca", certificateFiles().ca, "--port", port])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout.toString(), "Hello World!\n".repeat(3))
  })

  it("CERT_REQUIRED: --tls-cert and --tls-key are verified by Python's ssl", async (test) => {
    const files = certificateFiles()
    const [peer, port] = await asyncioServer(test, ["--ca", files.ca])
    const args = ["--tls", "--tls-ca", files.ca, "--port", port, "--log-format", "pretty"]
    const result = await run([...args, "--tls-cert", files.client.cert, "--tls-key", files.client.key])
    assert.strictEqual(result.code, 0, result.stderr)
    // a certificate Python does not trust: over TLS 1.3 the refusal comes after our handshake, and asyncio
    // closes without an alert (Python 3.11), so the client sees the echo end before it began
    const stranger = await run([
      ...args,
      "--tls-cert",
      files.strangerClient.cert,
      "--tls-key",
      files.strangerClient.key
    ])
    assert.include([7, 10], stranger.code, stranger.stderr)
    assert.strictEqual(stranger.stdout.length, 0)
    assert.match(
      lines(stranger.stderr).at(-1)!,
      /^echo-client: (EchoMismatchError: the echo ended after 0 bytes|SSLError)/
    )
    assert.deepStrictEqual(served(peer), [{ bytes: 12, protocol: "TLSv1.3" }])
  })
})
