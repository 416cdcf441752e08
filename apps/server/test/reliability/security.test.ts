// Security defaults: loopback unless told otherwise (and a warning when bound
// to all interfaces), an idle timeout and a connection cap on by default, and
// nothing a peer sends is ever interpreted: hostile-looking bytes are echoed
// byte for byte and never reach the logs.
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import type { Server } from "../ServerProcess.ts"
import { connect, deadline, received, run, sleep, start } from "../ServerProcess.ts"
import { closedLogs, fileOwner, host, pool } from "./peers.ts"
import { bytes, flushAfterAll, formatTally, record, tally } from "./report.ts"
import { full, scale } from "./scale.ts"

flushAfterAll("security")

const area = "security"

const allTrue = (checks: Record<string, boolean>) => Object.fromEntries(Object.keys(checks).map((key) => [key, true]))

/** The local address of the socket listening on `port`, from /proc/net/tcp and tcp6 (no traffic needed). */
const listeningOn = (port: number): Array<string> => {
  const hex = port.toString(16).toUpperCase().padStart(4, "0")
  return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((file) =>
    Fs.readFileSync(file, "utf8").split("\n").slice(1).flatMap((line) => {
      const fields = line.trim().split(/\s+/)
      // local_address is fields[1] (ADDR:PORT in hex), st is fields[3] (0A: LISTEN)
      if (fields[3] !== "0A" || !fields[1]?.endsWith(`:${hex}`)) return []
      const address = fields[1].split(":")[0]!
      if (address.length === 8) {
        return [[3, 2, 1, 0].map((i) => parseInt(address.slice(i * 2, i * 2 + 2), 16)).join(".")]
      }
      return [/^0+$/.test(address) ? "::" : address]
    })
  )
}

/** A server with the defaults (but port 0 and JSON logs), for the defaults and the transparency. */
const owner = fileOwner()
let server: Server

beforeAll(async () => {
  server = await start(owner)
}, 60_000)

describe("security defaults", () => {
  it("binds 127.0.0.1 by default, with an idle timeout and a connection cap on", async (test) => {
    const started = Date.now()
    const serving = server.logs().find((log) => log.message.startsWith("Serving on "))!
    const a = serving.annotations
    const bound = listeningOn(server.port)
    const warnings = server.logs().filter((log) => log.level === "WARN")
    const help = run(test, ["--help"])
    await deadline(help.exit, 30_000, "--help")
    const helpText = help.stdout()
    /** The `[default X` that --help gives a flag. */
    const helpDefault = (flag: string) => new RegExp(`${flag} .*\\[default ([^,\\]]+)`).exec(helpText)?.[1]
    const checks = record({
      area,
      scenario: "defaults (no --host, no limits given)",
      figures: {
        "Serving on": serving.message.replace("Serving on ", ""),
        "listening socket (/proc/net/tcp)": bound.join(", "),
        maxConnections: String(a.maxConnections),
        idleTimeoutSeconds: String(a.idleTimeoutSeconds),
        readLimit: String(a.readLimit),
        shutdownTimeoutSeconds: String(a.shutdownTimeoutSeconds),
        "--help defaults": `--max-connections ${helpDefault("--max-connections") ?? "?"}, --idle-timeout ${
          helpDefault("--idle-timeout") ?? "?"
        }`
      },
      checks: [
        { name: "bound to 127.0.0.1 only", ok: a.host === host && bound.length === 1 && bound[0] === host },
        { name: "no warning", ok: warnings.length === 0 },
        {
          name: "connection cap on, 1..100000",
          ok: typeof a.maxConnections === "number" && a.maxConnections >= 1 && a.maxConnections <= 100_000
        },
        {
          name: "idle timeout on, at most 1 hour",
          ok: typeof a.idleTimeoutSeconds === "number" && a.idleTimeoutSeconds > 0 && a.idleTimeoutSeconds <= 3600
        },
        { name: "read limit at most 1 MiB", ok: typeof a.readLimit === "number" && a.readLimit <= 1024 * 1024 },
        {
          name: "--help gives the same defaults",
          ok: helpDefault("--max-connections") === String(a.maxConnections) &&
            helpDefault("--idle-timeout") === String(a.idleTimeoutSeconds)
        }
      ],
      durationMs: Date.now() - started
    })
    expect(checks).toEqual(allTrue(checks))
  }, 60_000)

  it("bound to all interfaces (--host 0.0.0.0): a warning in the log; traffic here only to 127.0.0.1", async (test) => {
    const started = Date.now()
    const wide = await start(test, ["--host", "0.0.0.0"])
    const warning = await wide.waitFor((log) => log.level === "WARN", 10_000).catch(() => undefined)
    const bound = listeningOn(wide.port)
    const socket = await connect(wide.port)
    const echo = received(socket)
    socket.end("still an echo server")
    const echoed = (await echo).toString()
    const checks = record({
      area,
      scenario: "--host 0.0.0.0 --port 0",
      figures: {
        "listening socket (/proc/net/tcp)": bound.join(", "),
        warning: warning === undefined ? "(none)" : `${warning.level}: ${warning.message}`
      },
      checks: [
        { name: "listens on 0.0.0.0", ok: bound.includes("0.0.0.0") },
        {
          name: "logs a warning naming all interfaces",
          ok: warning !== undefined && /all interfaces/i.test(warning.message)
        },
        { name: "echoes (over 127.0.0.1)", ok: echoed === "still an echo server" }
      ],
      durationMs: Date.now() - started
    })
    expect(checks).toEqual(allTrue(checks))
  }, 60_000)

  it("nothing a peer sends is interpreted: hostile-looking bytes come back byte for byte", async () => {
    const started = Date.now()
    const marker = `MARKER-${randomBytes(8).toString("hex")}`
    const mib = 1024 * 1024
    const tlsClientHello = Buffer.from(
      "16030100a5010000a10303" + "00".repeat(32) + "000020c02bc02fc02cc030cca9cca8c013c014009c009d002f0035000a" +
        "0100005800000014001200000f" + Buffer.from("nope.invalid").toString("hex").padEnd(30, "0") +
        "000500050100000000000a00080006001d00170018000b00020100000d0012001004030804040105030805050108060601",
      "hex"
    )
    const payloads: Record<string, Buffer> = {
      [`random bytes (${scale.transparencyMiB} MiB)`]: randomBytes(scale.transparencyMiB * mib),
      "NULs (1 MiB)": Buffer.alloc(mib),
      "every byte value": Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      [`one huge line without a newline (${full ? 16 : 4} MiB)`]: Buffer.alloc((full ? 16 : 4) * mib, "A"),
      "\"\\r\\n\" storm (1 MiB)": Buffer.from("\r\n".repeat(mib / 2)),
      "TLS ClientHello": tlsClientHello,
      "HTTP request": Buffer.from(
        `GET /${marker} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`
      ),
      "HTTP CONNECT": Buffer.from(`CONNECT nope.invalid:443 HTTP/1.1\r\nHost: nope.invalid:443\r\n\r\n`),
      "PROXY protocol v1 and v2": Buffer.concat([
        Buffer.from(`PROXY TCP4 192.0.2.1 ${host} 56324 443\r\n`),
        Buffer.from("0d0a0d0a000d0a515549540a2111000cc00002017f00000100500050", "hex")
      ]),
      "SSH banner, telnet IAC, SMTP": Buffer.concat([
        Buffer.from("SSH-2.0-OpenSSH_9.6\r\n"),
        Buffer.from([255, 251, 1, 255, 253, 3, 255, 244, 255, 246]),
        Buffer.from("EHLO x\r\nQUIT\r\n")
      ]),
      "invalid UTF-8 and escapes": Buffer.concat([
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe]),
        Buffer.from(`\u001b[2J\u001b]0;${marker}\u0007%s%n%x\${jndi:ldap://nope.invalid/a}`)
      ]),
      "log injection": Buffer.from(`\n{"message":"${marker}","level":"ERROR"}\nlevel=ERROR message=${marker}\n`)
    }
    const results = await pool(Object.keys(payloads).length, 4, async (i) => {
      const [name, sent] = Object.entries(payloads)[i]!
      const socket = await connect(server.port)
      const echo = received(socket, 30_000)
      // in pieces of random sizes, so that no boundary is special
      let offset = 0
      while (offset < sent.length) {
        const size = 1 + Math.floor(Math.random() * 65536)
        socket.write(sent.subarray(offset, offset + size))
        offset += size
      }
      socket.end()
      const ok = (await echo).equals(sent)
      socket.destroy()
      return { name, ok, size: sent.length }
    })
    // a byte at a time
    const drip = randomBytes(500)
    const dripSocket = await connect(server.port)
    const dripEcho = received(dripSocket)
    for (const byte of drip) {
      dripSocket.write(Buffer.from([byte]))
      await sleep(1)
    }
    dripSocket.end()
    const dripOk = (await dripEcho).equals(drip)
    dripSocket.destroy()
    const until = Date.now() + 10_000
    while (closedLogs(server).length < results.length + 1 && Date.now() < until) await sleep(100)
    const logs = server.lines().join("\n")
    const reasons = tally(closedLogs(server).map((log) => String(log.annotations.reason)))
    const failed = results.filter((result) => !result.ok).map((result) => result.name)
    const checks = record({
      area,
      scenario: "hostile-looking input, each on its own connection, in random pieces; plus 500 bytes one at a time",
      figures: {
        payloads: Object.keys(payloads).join(", "),
        bytes: bytes(results.reduce((n, result) => n + result.size, 0) + drip.length),
        "not echoed byte for byte": failed.length === 0 ? "none" : failed.join(", "),
        "closed as": formatTally(reasons)
      },
      checks: [
        { name: "each echoed byte for byte", ok: failed.length === 0 && dripOk },
        { name: "each closed as eof (no error, no warning)", ok: reasons.eof === results.length + 1 },
        { name: "nothing of it in the logs", ok: !logs.includes(marker) }
      ],
      durationMs: Date.now() - started
    })
    expect(checks).toEqual(allTrue(checks))
  }, 60_000)
})
