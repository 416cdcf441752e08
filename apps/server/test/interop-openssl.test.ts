// Interop: `openssl s_client` (OpenSSL's own TLS client) against our TLS server, over TLS 1.2 and
// 1.3, every byte of the echo checked. Skipped, saying why, where openssl is not installed.
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { certificateFiles } from "./certificates.ts"
import { opensslMissing, startPeer } from "./interop.ts"
import { deadline, patience, type Server, start, type Test } from "./ServerProcess.ts"

const title = opensslMissing === undefined
  ? "openssl s_client against echo-server --tls-cert"
  : `openssl s_client against echo-server --tls-cert (skipped: ${opensslMissing})`

/** `openssl s_client` to the server: sends its stdin, prints what comes back, nothing else (-quiet). */
const sClient = (test: Test, server: Server, args: ReadonlyArray<string>) => {
  const files = certificateFiles()
  return startPeer(test, "openssl", [
    "s_client",
    "-quiet",
    "-connect",
    `127.0.0.1:${server.port}`,
    "-servername",
    "localhost",
    "-CAfile",
    files.ca,
    "-verify_return_error",
    ...args
  ])
}

if (opensslMissing !== undefined) console.warn(`interop-openssl.test.ts: skipped: ${opensslMissing}`)

describe.skipIf(opensslMissing !== undefined).concurrent(title, () => {
  it.for(["1.2", "1.3"])("TLS %s: 256 KiB echoed byte for byte", async (version, test) => {
    const files = certificateFiles()
    const server = await start(test, ["--tls-cert", files.server.cert, "--tls-key", files.server.key])
    const peer = sClient(test, server, [`-tls${version.replace(".", "_")}`])
    const sent = randomBytes(256 * 1024)
    peer.child.stdin!.write(sent)
    const echoed = await peer.stdoutHolds(sent.length)
    assert.isTrue(echoed.equals(sent), `${echoed.length} bytes back`)
    const opened = await server.waitFor((log) => log.message === "Connection opened")
    assert.strictEqual(opened.annotations.tlsProtocol, `TLSv${version}`)
    peer.child.kill("SIGTERM")
    await server.waitFor((log) => log.message === "Connection closed")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("--tls-ca: s_client with a certificate the CA signed is served, and named in the log", async (test) => {
    const files = certificateFiles()
    const server = await start(test, [
      "--tls-cert",
      files.server.cert,
      "--tls-key",
      files.server.key,
      "--tls-ca",
      files.ca
    ])
    const peer = sClient(test, server, ["-cert", files.client.cert, "-key", files.client.key])
    const sent = randomBytes(64 * 1024)
    peer.child.stdin!.write(sent)
    assert.isTrue((await peer.stdoutHolds(sent.length)).equals(sent))
    const opened = await server.waitFor((log) => log.message === "Connection opened")
    assert.strictEqual(opened.annotations.clientCertificate, "CN=test client")
    peer.child.kill("SIGTERM")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })
})
