// The TLS flags end to end: main.ts as a process on 127.0.0.1 (port 0), talked to with node:tls, with
// the test certificates written to files when the tests run (`certFiles.ts`; openssl makes them).
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { once } from "node:events"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { certificateFiles } from "./certificates.ts"
import { deadline, type Log, patience, run, type Server, start } from "./ServerProcess.ts"

const files = certificateFiles()
const ca = Fs.readFileSync(files.ca)
const tlsArgs = ["--tls-cert", files.server.cert, "--tls-key", files.server.key]

/** A TLS connection to the server, verified against the test CA (and `extra`: a client certificate...). */
const connectTls = async (port: number, extra: Tls.ConnectionOptions = {}): Promise<Tls.TLSSocket> => {
  const socket = Tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost", ...extra })
  await deadline(once(socket, "secureConnect"), 10_000, "the TLS handshake")
  return socket
}

/** Sends `sent`, then close_notify and FIN, and collects the echo until the server's end. */
const echoOver = (socket: Tls.TLSSocket, sent: Buffer): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  socket.on("data", (chunk: Buffer) => chunks.push(chunk))
  const ended = new Promise<Buffer>((resolve, reject) => {
    socket.on("end", () => resolve(Buffer.concat(chunks)))
    socket.on("error", reject)
  })
  socket.end(sent)
  return deadline(ended, patience, "the end of the echo")
}

/** The echo of a new TLS connection is what was sent, byte for byte. */
const echoes = async (server: Server, size: number, extra?: Tls.ConnectionOptions): Promise<boolean> => {
  const sent = randomBytes(size)
  const socket = await connectTls(server.port, extra)
  try {
    return (await echoOver(socket, sent)).equals(sent)
  } finally {
    socket.destroy()
  }
}

const handshakeFailed = (log: Log) => log.message === "TLS handshake failed"

const stop = async (server: Server) => {
  server.child.kill("SIGTERM")
  assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
}

describe.concurrent("echo-server over TLS", () => {
  it("--tls-cert and --tls-key: echoes 1 MiB over TLS and logs what was agreed", async (test) => {
    const server = await start(test, tlsArgs)
    assert.isTrue(await echoes(server, 1024 * 1024))
    const serving = server.logs().find((log) => log.message.startsWith("Serving on "))!
    assert.strictEqual(serving.message, `Serving on 127.0.0.1:${server.port}`)
    assert.include(serving.annotations, {
      tls: true,
      tlsCert: files.server.cert,
      tlsKey: files.server.key,
      clientCertificates: "none",
      tlsHandshakeTimeoutSeconds: 10
    })
    const opened = await server.waitFor((log) => log.message === "Connection opened")
    assert.strictEqual(opened.annotations.tlsProtocol, "TLSv1.3")
    assert.isString(opened.annotations.tlsCipher)
    assert.notProperty(opened.annotations, "clientCertificate")
    const closed = await server.waitFor((log) => log.message === "Connection closed")
    assert.strictEqual(closed.annotations.reason, "eof")
    assert.strictEqual(closed.annotations.bytesOut, 1024 * 1024)
    await stop(server)
  })

  it("reads the TLS flags from ECHO_TLS_CERT, ECHO_TLS_KEY, ECHO_TLS_CA, ECHO_TLS_HANDSHAKE_TIMEOUT", async (test) => {
    const server = await start(test, [], {
      ECHO_TLS_CERT: files.server.cert,
      ECHO_TLS_KEY: files.server.key,
      ECHO_TLS_CA: files.ca,
      ECHO_TLS_HANDSHAKE_TIMEOUT: "3"
    })
    const serving = server.logs().find((log) => log.message.startsWith("Serving on "))!
    assert.include(serving.annotations, { tls: true, tlsCa: files.ca, tlsHandshakeTimeoutSeconds: 3 })
    assert.isTrue(
      await echoes(server, 1000, { cert: Fs.readFileSync(files.client.cert), key: Fs.readFileSync(files.client.key) })
    )
    await stop(server)
  })

  it("a plain server logs tls=false on its Serving line", async (test) => {
    const server = await start(test)
    assert.strictEqual(server.logs()[0]!.annotations.tls, false)
    await stop(server)
  })

  it("--tls-ca: asks for a client certificate, serves one the CA signed, refuses the rest and goes on", async (test) => {
    const server = await start(test, [...tlsArgs, "--tls-ca", files.ca, "--tls-handshake-timeout", "5"])
    const client = { cert: Fs.readFileSync(files.client.cert), key: Fs.readFileSync(files.client.key) }
    assert.isTrue(await echoes(server, 64 * 1024, client))
    const opened = await server.waitFor((log) => log.message === "Connection opened")
    assert.strictEqual(opened.annotations.clientCertificate, "CN=test client")
    assert.include(server.logs()[0]!.annotations, { clientCertificates: "require", tlsCa: files.ca })

    // no certificate: over TLS 1.3 the client's handshake is done before the server refuses it
    const anonymous = Tls.connect({ host: "127.0.0.1", port: server.port, ca, servername: "localhost" })
    anonymous.on("error", () => {})
    anonymous.write("hello")
    const refused = await server.waitFor(handshakeFailed)
    assert.strictEqual(refused.annotations.error, "SSLError")
    assert.match(String(refused.annotations.errorMessage), /PEER_DID_NOT_RETURN_A_CERTIFICATE/)
    anonymous.destroy()

    // a certificate from a CA the server does not trust
    const stranger = Tls.connect({
      host: "127.0.0.1",
      port: server.port,
      ca,
      servername: "localhost",
      cert: Fs.readFileSync(files.strangerClient.cert),
      key: Fs.readFileSync(files.strangerClient.key)
    })
    stranger.on("error", () => {})
    const unknown = await server.waitFor((log) => handshakeFailed(log) && log !== refused)
    assert.strictEqual(unknown.annotations.error, "SSLCertVerificationError")
    stranger.destroy()

    // one line each, and the server serves the next client
    assert.isNull(server.child.signalCode, "the server must outlive a client certificate it rejects")
    assert.isTrue(await echoes(server, 1000, client))
    assert.strictEqual(server.logs().filter(handshakeFailed).length, 2)
    await stop(server)
  })

  it("a plaintext client on the TLS port: one line with its typed error, and the server goes on", async (test) => {
    const server = await start(test, tlsArgs)
    const plain = Net.connect({ port: server.port, host: "127.0.0.1" })
    plain.on("error", () => {})
    const closed = once(plain, "close")
    plain.write("GET / HTTP/1.0\r\n\r\n")
    const failed = await server.waitFor(handshakeFailed)
    assert.strictEqual(failed.level, "WARN")
    assert.include(failed.annotations, { error: "SSLError", code: "SSL_ERROR_SSL" })
    assert.match(String(failed.annotations.errorMessage), /^\[SSL: [A-Z_]+\] /)
    assert.match(String(failed.annotations.peer), /^127\.0\.0\.1:\d+$/)
    await deadline(closed, 10_000, "the plaintext connection to close")
    assert.isTrue(await echoes(server, 1000))
    await stop(server)
  })

  it("a handshake that stalls: TimeoutError after --tls-handshake-timeout, and the server goes on", async (test) => {
    const server = await start(test, [...tlsArgs, "--tls-handshake-timeout", "0.3"])
    const silent = Net.connect({ port: server.port, host: "127.0.0.1" })
    silent.on("error", () => {})
    const closed = once(silent, "close")
    const startedAt = Date.now()
    const failed = await server.waitFor(handshakeFailed, 10_000)
    assert.isAtLeast(Date.now() - startedAt, 250)
    assert.strictEqual(failed.annotations.error, "TimeoutError")
    await deadline(closed, 10_000, "the stalled connection to close")
    assert.isTrue(await echoes(server, 1000))
    await stop(server)
  })

  it.for<readonly [string, ReadonlyArray<string>, Record<string, string>, string]>([
    ["a missing certificate", ["--tls-cert", "/no/such/cert.pem", "--tls-key", files.server.key], {}, "--tls-cert"],
    [
      "an unreadable certificate (a folder)",
      ["--tls-cert", files.dir, "--tls-key", files.server.key],
      {},
      "--tls-cert"
    ],
    ["a key for a certificate", ["--tls-cert", files.server.key, "--tls-key", files.server.key], {}, "--tls-cert"],
    ["a certificate for a key", ["--tls-cert", files.server.cert, "--tls-key", files.server.cert], {}, "--tls-key"],
    ["a key that does not match", ["--tls-cert", files.server.cert, "--tls-key", files.client.key], {}, "--tls-key"],
    ["a missing key", [], { ECHO_TLS_CERT: files.server.cert, ECHO_TLS_KEY: "/no/such/key.pem" }, "--tls-key"],
    ["a mismatch in the environment", [], {
      ECHO_TLS_CERT: files.server.cert,
      ECHO_TLS_KEY: files.selfSigned.key
    }, "--tls-key"],
    ["--tls-cert alone", ["--tls-cert", files.server.cert], {}, "--tls-key"],
    ["--tls-key alone", ["--tls-key", files.server.key], {}, "--tls-cert"],
    ["--tls-ca without a certificate", ["--tls-ca", files.ca], {}, "--tls-ca"],
    ["a CA file without certificates", [...tlsArgs, "--tls-ca", files.server.key], {}, "--tls-ca"],
    ["--tls-handshake-timeout soon", [...tlsArgs, "--tls-handshake-timeout", "soon"], {}, "--tls-handshake-timeout"],
    ["TLS on a Unix socket", [...tlsArgs, "--unix", "/tmp/echo-tls.sock"], {}, "--unix"]
  ])("%s: one line naming the flag, exit 2, nothing bound", async ([, args, env, named], test) => {
    const server = run(test, ["--port", "0", "--log-format", "json", ...args], env)
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 2)
    const lines = server.lines()
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.include(lines[0], named)
    assert.notInclude(lines[0], "Serving")
    // the files' names, never their contents
    assert.notMatch(lines[0]!, /[A-Za-z0-9+/]{48}/)
  })

  it("an unreadable file (no permission): one line, exit 2", async (test) => {
    if (process.getuid?.() === 0) return test.skip("root reads any file: a folder stands for an unreadable file above")
    const locked = `${files.dir}/locked.pem`
    Fs.copyFileSync(files.server.cert, locked)
    Fs.chmodSync(locked, 0)
    const server = run(test, ["--port", "0", "--tls-cert", locked, "--tls-key", files.server.key])
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 2)
    assert.match(server.lines().join("\n"), /--tls-cert.*EACCES/)
  })

  it("--help lists the TLS flags with their environment variables", async (test) => {
    const server = run(test, ["--help"])
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
    for (const text of ["--tls-cert", "ECHO_TLS_CERT", "--tls-key", "--tls-ca", "--tls-handshake-timeout", "--unix"]) {
      assert.include(server.stdout(), text)
    }
  })
})
