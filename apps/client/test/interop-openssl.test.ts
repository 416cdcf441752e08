// Interop: our client against `openssl s_server` (OpenSSL's own TLS server), over TLS 1.2 and 1.3.
// s_server has no plain echo: `-rev` answers each line reversed, so the client sends palindromes, and
// what it checks byte for byte is then an echo. Skipped, saying why, where openssl is not installed.
import { assert, describe, it } from "@effect/vitest"
import { randomInt } from "node:crypto"
import { certificateFiles } from "./certificates.ts"
import { lines, run } from "./helpers.ts"
import { opensslMissing, startPeer, type Test } from "./interop.ts"

if (opensslMissing !== undefined) console.warn(`interop-openssl.test.ts: skipped: ${opensslMissing}`)
const title = `echo-client --tls against openssl s_server${
  opensslMissing === undefined ? "" : ` (skipped: ${opensslMissing})`
}`

/** Lines that read the same reversed, `bytes` in all or a little more: what `s_server -rev` echoes as is. */
const palindromes = (bytes: number): Buffer => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .,;:-_"
  const out: Array<string> = []
  let length = 0
  while (length < bytes) {
    const half = Array.from({ length: randomInt(1, 200) }, () => alphabet[randomInt(alphabet.length)]).join("")
    const line = `${half}${[...half].toReversed().join("")}\n`
    out.push(line)
    length += line.length
  }
  return Buffer.from(out.join(""))
}

/** `openssl s_server -rev` for one connection; its port once it listens. */
const sServer = async (test: Test, args: ReadonlyArray<string>): Promise<string> => {
  const files = certificateFiles()
  const peer = startPeer(test, "openssl", [
    "s_server",
    "-accept",
    "127.0.0.1:0",
    "-naccept",
    "1",
    "-rev",
    "-cert",
    files.server.cert,
    "-key",
    files.server.key,
    ...args
  ])
  const [, port] = await peer.stdoutMatches(/ACCEPT [^\n]*:(\d+)\n/)
  return port!
}

const connectedLog = (stderr: string) =>
  lines(stderr).map((line) => JSON.parse(line) as Record<string, any>).find((entry) =>
    String(entry.message).startsWith("connected to")
  )!

describe.skipIf(opensslMissing !== undefined).concurrent(title, () => {
  it.for(["1.2", "1.3"])("TLS %s: --stdin, 100 KiB of lines through s_server, byte for byte", async (version, test) => {
    const port = await sServer(test, [`-tls${version.replace(".", "_")}`])
    const input = palindromes(100 * 1024)
    const files = certificateFiles()
    const result = await run(["--stdin", "--tls", "--tls-ca", files.ca, "--port", port, "--log-format", "json"], {
      input
    })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.isTrue(result.stdout.equals(input), `${result.stdout.length} of ${input.length} bytes`)
    assert.strictEqual(connectedLog(result.stderr).annotations.tlsProtocol, `TLSv${version}`)
  })

  it("a message, three times, on one connection", async (test) => {
    const port = await sServer(test, [])
    const files = certificateFiles()
    const message = "step on no pets\n"
    const result = await run([message, "--count", "3", "--tls", "--tls-ca", files.ca, "--port", port])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout.toString(), `${message}\n`.repeat(3))
  })

  it("s_server -Verify 1 asks for a client certificate: --tls-cert and --tls-key", async (test) => {
    const files = certificateFiles()
    const port = await sServer(test, ["-Verify", "1", "-CAfile", files.ca, "-verify_return_error"])
    const result = await run([
      "abba\n",
      "--tls",
      "--tls-ca",
      files.ca,
      "--tls-cert",
      files.client.cert,
      "--tls-key",
      files.client.key,
      "--port",
      port
    ])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout.toString(), "abba\n\n")
  })

  it("s_server -Verify 1 refuses a client without a certificate: SSLError, exit 10", async (test) => {
    const files = certificateFiles()
    const port = await sServer(test, ["-Verify", "1", "-CAfile", files.ca, "-verify_return_error"])
    const result = await run(["abba\n", "--tls", "--tls-ca", files.ca, "--port", port, "--log-format", "pretty"])
    assert.strictEqual(result.code, 10, result.stderr)
    assert.match(lines(result.stderr).at(-1)!, /^echo-client: SSLError: \[SSL: [A-Z0-9_]+\] /)
  })
})
