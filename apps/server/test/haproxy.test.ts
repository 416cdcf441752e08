// A real HAProxy (deploy/haproxy.cfg, through haproxy.ts) in front of three echo servers with
// --proxy-protocol, on loopback: the real client's address in the logs, 1,000 connections checked byte
// for byte, SIGTERM and SIGKILL of one instance under load (the echo client resuming with --retries);
// and the shipped files checked by haproxy -c and systemd-analyze verify. Skipped, saying why, where
// haproxy is missing and cannot be installed. Clients connect from 127.0.0.2, so that the servers'
// `peer` tells them from the balancer (127.0.0.1) and its health checks (peer = proxy). Each scenario
// is also a row of RELIABILITY.md (`pnpm test:reliability`).
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { once } from "node:events"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { checkConfig, deployConfig, haproxyMissing, isHealthCheck, startCluster } from "./haproxy.ts"
import { bytes, flushAfterAll, formatTally, record, tally } from "./reliability/report.ts"
import { alive, deadline, type Log, patience, payload, type Process, run, sleep } from "./ServerProcess.ts"

const clientMain = fileURLToPath(new URL("../../client/src/main.ts", import.meta.url))
const unitFile = fileURLToPath(new URL("../../../deploy/echo-server@.service", import.meta.url))

/** The unit's ExecStart flags, less the port and log format each test server gets from `start`. */
const unitArgs = (): Array<string> => {
  const execStart = Fs.readFileSync(unitFile, "utf8").match(/^ExecStart=(.*)$/m)
  if (execStart === null) throw new Error("deploy/echo-server@.service: no ExecStart line")
  const words = execStart[1]!.trim().split(/\s+/).slice(1)
  const args: Array<string> = []
  for (let i = 0; i < words.length; i++) {
    if (words[i] === "--port" || words[i] === "--log-format") i++
    else args.push(words[i]!)
  }
  return args
}

const client = "127.0.0.2"

const clientLogs = (server: Process, message: string): ReadonlyArray<Log> =>
  server.logs().filter((log) => log.message === message && !isHealthCheck(log.annotations))

/** Which server logged the connection from this client port. */
const servedBy = (servers: ReadonlyArray<Process>, localPort: number): number =>
  servers.findIndex((server) =>
    clientLogs(server, "Connection opened").some((log) => log.annotations.peer === `${client}:${localPort}`)
  )

const open = async (port: number): Promise<Net.Socket> => {
  const socket = Net.connect({ port, host: "127.0.0.1", localAddress: client })
  await deadline(once(socket, "connect"), patience, "the connect through HAProxy")
  return socket
}

/** Sends `sent`, half-closes, and resolves with whether the echo is exactly `sent`. */
const echo = async (port: number, sent: Buffer): Promise<{ readonly ok: boolean; readonly localPort: number }> => {
  const socket = await open(port)
  const localPort = socket.localPort!
  const chunks: Array<Buffer> = []
  socket.on("data", (chunk: Buffer) => chunks.push(chunk))
  socket.end(sent)
  const ok = await deadline(
    new Promise<boolean>((resolve) => {
      socket.on("end", () => resolve(Buffer.concat(chunks).equals(sent)))
      socket.on("error", () => resolve(false))
    }),
    patience,
    "an echo through HAProxy"
  )
  socket.destroy()
  return { ok, localPort }
}

/** Runs `task(i)` for i < n, `concurrency` at a time. */
const pool = async <A>(n: number, concurrency: number, task: (i: number) => Promise<A>): Promise<Array<A>> => {
  const results: Array<A> = []
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++
      results[i] = await task(i)
    }
  }))
  return results
}

/** A client streaming without pause: a chunk, its echo checked byte for byte, the next, until `stop`. */
interface Streamer {
  readonly localPort: number
  readonly sent: () => number
  readonly echoed: () => number
  /** Why it failed (an error, an echo that differs, the connection ended before `stop`), if it did. */
  readonly failure: () => string | undefined
  /** Half-closes after the echo in flight; resolves when the connection is closed. */
  readonly stop: () => Promise<void>
}

const chunkSize = 16 * 1024

const streamer = async (port: number, seed: number): Promise<Streamer> => {
  const socket = await open(port)
  let pending: Buffer = Buffer.alloc(0)
  let sent = 0
  let echoed = 0
  let round = 0
  let stopping = false
  let failure: string | undefined
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()))
  const next = () => {
    if (stopping) return void socket.end()
    pending = payload(chunkSize, seed * 7 + round++)
    sent += pending.length
    socket.write(pending)
  }
  socket.on("data", (data: Buffer) => {
    if (failure !== undefined) return
    if (!data.equals(pending.subarray(0, data.length))) {
      failure = `the echo differs after ${echoed} bytes`
      return void socket.destroy()
    }
    pending = pending.subarray(data.length)
    echoed += data.length
    if (pending.length === 0) setImmediate(next)
  })
  socket.on("end", () => {
    if (!stopping || pending.length > 0) failure ??= `the connection ended after ${echoed} of ${sent} bytes`
  })
  socket.on("error", (error: NodeJS.ErrnoException) => (failure ??= error.code ?? error.message))
  next()
  return {
    localPort: socket.localPort!,
    sent: () => sent,
    echoed: () => echoed,
    failure: () => failure,
    stop: () => {
      stopping = true
      if (pending.length === 0 && !socket.destroyed) socket.end()
      return deadline(closed, patience, "a streaming client to close")
    }
  }
}

/** Resolves once `predicate` holds, checked every 20 ms (within `ms`). */
const until = (predicate: () => boolean, what: string, ms = patience): Promise<void> =>
  deadline(
    new Promise<void>((resolve) => {
      const check = () => (predicate() ? resolve() : setTimeout(check, 20))
      check()
    }),
    ms,
    what
  )

/** Whether a socket listens on 127.0.0.1:port (/proc/net/tcp, state 0A), without connecting to it. */
const listening = (port: number): boolean =>
  Fs.readFileSync("/proc/net/tcp", "utf8").split("\n").some((line) => {
    const [, local, , state] = line.trim().split(/\s+/)
    return state === "0A" && local === `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`
  })

/** HAProxy's tcplog lines whose retries field says the connection was redispatched ("+N"). */
const redispatched = (stdout: string): number =>
  stdout.split("\n").filter((line) => / \d+\/\d+\/\d+\/\d+\/\+\d+ /.test(line)).length

/** `n` streaming clients, once each has had an echo and a server has logged its connection. */
const streamers = async (
  port: number,
  n: number,
  seed: number,
  servers: ReadonlyArray<Process>
): Promise<Array<Streamer>> => {
  const all = await Promise.all(Array.from({ length: n }, (_, i) => streamer(port, seed + i)))
  await until(() => all.every((s) => s.echoed() > 0), "every streaming client echoed")
  // a server's log line can come through its pipe after the echo through the socket
  await until(() => all.every((s) => servedBy(servers, s.localPort) !== -1), "every streaming client logged")
  return all
}

/** The echo client's connection: it connects from 127.0.0.1, the one relayed connection not from 127.0.0.2. */
const isEchoClient = (log: Log) =>
  log.message === "Connection opened" && !isHealthCheck(log.annotations) &&
  String(log.annotations.peer).startsWith("127.0.0.1:")

flushAfterAll("haproxy")

const skipped = haproxyMissing === undefined ? "" : ` (skipped: ${haproxyMissing})`
if (haproxyMissing !== undefined) console.warn(`haproxy.test.ts: HAProxy tests skipped: ${haproxyMissing}`)

describe.skipIf(haproxyMissing !== undefined).concurrent(`echo servers behind a real HAProxy${skipped}`, () => {
  it("deploy/haproxy.cfg is valid (haproxy -c)", () => {
    const { output, status } = checkConfig(deployConfig)
    assert.strictEqual(status, 0, output)
    assert.include(output, "Configuration file is valid")
  })

  it("the server logs the real client's address, and the balancer's as proxy", { timeout: 120_000 }, async (test) => {
    const { balancer, servers } = await startCluster(test, unitArgs())
    const started = Date.now()
    const sent = payload(10_000, 1)
    const { localPort, ok } = await echo(balancer.port, sent)
    assert.isTrue(ok, "the echo through HAProxy")
    await until(() => servedBy(servers, localPort) !== -1, "a server to log the connection").catch(() => {})
    const index = servedBy(servers, localPort)
    assert.notStrictEqual(index, -1, `no server logged a connection from ${client}:${localPort}`)
    const server = servers[index]!
    const opened = clientLogs(server, "Connection opened").find((log) =>
      log.annotations.peer === `${client}:${localPort}`
    )!
    const proxy = String(opened.annotations.proxy)
    const closed = await server.waitFor((log) =>
      log.message === "Connection closed" && log.annotations.peer === `${client}:${localPort}`
    )
    // HAProxy's own log names the same client
    await balancer.waitFor(
      new RegExp(`^${client.replaceAll(".", "\\.")}:${localPort} .* echo_servers/echo${index + 1} `, "m")
    )
    // no server saw this client as the balancer: every other client connection names 127.0.0.2 too
    const asBalancer = servers.flatMap((s) => clientLogs(s, "Connection opened")).filter((log) =>
      !String(log.annotations.peer).startsWith(`${client}:`)
    )
    const checks = record({
      area: "balancer",
      scenario: "HAProxy (send-proxy-v2) in front of 3 servers: a client from 127.0.0.2",
      figures: {
        "logged peer": String(opened.annotations.peer),
        "logged proxy": proxy,
        "closed as": String(closed.annotations.reason),
        "bytes in/out": `${closed.annotations.bytesIn} / ${closed.annotations.bytesOut}`
      },
      checks: [
        { name: "echoed byte for byte", ok },
        { name: "the server logs the client's address and port as peer", ok: index !== -1 },
        { name: "and the balancer (127.0.0.1) as proxy", ok: /^127\.0\.0\.1:\d+$/.test(proxy) },
        { name: "no connection logged with the balancer as peer", ok: asBalancer.length === 0 },
        {
          name: "the PROXY header is not echoed (bytes in = bytes out = sent)",
          ok: closed.annotations.bytesIn === sent.length && closed.annotations.bytesOut === sent.length
        }
      ],
      durationMs: Date.now() - started
    })
    for (const [name, ok] of Object.entries(checks)) assert.isTrue(ok, name)
  })

  it("1,000 connections, 100 at a time, each a distinct payload checked byte for byte: none lost", {
    timeout: 240_000
  }, async (test) => {
    const { balancer, servers } = await startCluster(test, unitArgs())
    const started = Date.now()
    const n = 1000
    const sizes: Array<number> = []
    const results = await pool(n, 100, (i) => {
      const index = Buffer.alloc(4)
      index.writeUInt32BE(i)
      const sent = Buffer.concat([index, payload(4096 + (i % 1024), i)])
      sizes[i] = sent.length
      return echo(balancer.port, sent)
    })
    const clientTime = Date.now() - started
    const closed = () => servers.map((server) => clientLogs(server, "Connection closed"))
    await until(() => closed().flat().length >= n, "every connection logged as closed").catch(() => {})
    const perServer = closed()
    const all = perServer.flat()
    const sentBytes = sizes.reduce((a, b) => a + b, 0)
    const bytesIn = all.reduce((sum, log) => sum + Number(log.annotations.bytesIn), 0)
    const corrupted = results.filter((result) => !result.ok).length
    const checks = record({
      area: "balancer",
      scenario: "1,000 connections through HAProxy, 100 at a time, 4–5 KiB each, every byte checked",
      figures: {
        connections: n,
        bytes: bytes(sentBytes),
        "not echoed byte for byte": corrupted,
        "closed logs per server": perServer.map((logs) => logs.length).join(" + "),
        "closed as": formatTally(tally(all.map((log) => String(log.annotations.reason)))),
        "servers read": bytes(bytesIn),
        "client time": `${(clientTime / 1000).toFixed(1)} s`
      },
      checks: [
        { name: "every echo byte for byte", ok: corrupted === 0 },
        { name: "the servers' closed logs add up to 1,000 (health checks aside)", ok: all.length === n },
        { name: "each logged as eof", ok: all.every((log) => log.annotations.reason === "eof") },
        { name: "every server got some", ok: perServer.every((logs) => logs.length > 0) },
        { name: "the servers read what was sent (no header counted)", ok: bytesIn === sentBytes }
      ],
      durationMs: Date.now() - started
    })
    for (const [name, ok] of Object.entries(checks)) assert.isTrue(ok, name)
  })

  it("SIGTERM one instance under load: HAProxy sends it nothing new, its connections drain, no byte lost", {
    timeout: 240_000
  }, async (test) => {
    // the shipped check interval: the stopped instance stays in rotation until its checks fail, and a
    // connect it refuses meanwhile is redispatched
    const { balancer, servers } = await startCluster(test, unitArgs(), "shipped")
    const started = Date.now()
    const load = await streamers(balancer.port, 30, 1000, servers)
    const victim = servers[0]!
    const onVictim = load.filter((s) => servedBy(servers, s.localPort) === 0)
    assert.isAbove(onVictim.length, 0, "the victim serves some of the streaming clients")
    const echoedAtSignal = onVictim.map((s) => s.echoed())
    victim.child.kill("SIGTERM")
    const signaledAt = Date.now()
    await until(() => !listening(victim.port), "the victim's listener to close")
    const closedAt = Date.now()
    // new connections from the moment the listener is closed: HAProxy still picks the victim until two
    // checks in a row failed; such a connect is refused and redispatched
    const down = balancer.waitFor(/Server echo_servers\/echo1 is DOWN/).then(() => Date.now())
    const wave = await pool(200, 10, (i) => echo(balancer.port, payload(8192, i)))
    const waveDoneAt = Date.now()
    const downAt = await down
    // the victim's clients are still served: it drains
    await until(
      () => onVictim.every((s, i) => s.echoed() > echoedAtSignal[i]! + chunkSize),
      "the victim's clients to be echoed after the signal"
    )
    const stillAlive = alive(victim.child.pid!)
    await Promise.all(load.map((s) => s.stop()))
    const code = await deadline(victim.exit, patience, "the victim to exit")
    const exitedAt = Date.now()
    const newOnVictim = wave.filter((result) => servedBy(servers, result.localPort) === 0).length
    const failed = load.filter((s) => s.failure() !== undefined || s.sent() !== s.echoed())
    const victimClosed = clientLogs(victim, "Connection closed")
    const streamed = load.reduce((sum, s) => sum + s.echoed(), 0)
    const checks = record({
      area: "balancer",
      scenario: "SIGTERM one of 3 instances behind HAProxy: 30 clients streaming, 200 new connections after",
      figures: {
        "streaming clients": `${load.length} (${onVictim.length} on the stopped instance)`,
        "streamed and checked": bytes(streamed),
        "signal to listener closed": `${closedAt - signaledAt} ms`,
        "signal to HAProxy marking it DOWN": `${downAt - signaledAt} ms`,
        "new connections made in": `${waveDoneAt - closedAt} ms`,
        "new connections": `${wave.length}, on the stopped instance: ${newOnVictim}, failed: ${
          wave.filter((r) => !r.ok).length
        }`,
        "redispatched by HAProxy": redispatched(balancer.stdout()),
        "its connections closed as": formatTally(tally(victimClosed.map((log) => String(log.annotations.reason)))),
        "exit code": String(code),
        "signal to exit": `${exitedAt - signaledAt} ms`
      },
      checks: [
        { name: "HAProxy marks it DOWN (its checks are refused)", ok: downAt > signaledAt },
        {
          name: "connects it refused before that were redispatched",
          ok: redispatched(balancer.stdout()) > 0
        },
        { name: "every new connection echoed byte for byte", ok: wave.every((r) => r.ok) },
        { name: "and none on the stopped instance", ok: newOnVictim === 0 },
        { name: "its open connections are still echoed after the signal", ok: stillAlive },
        { name: "no streaming client lost or corrupted a byte", ok: failed.length === 0 },
        {
          name: "its connections closed as eof",
          ok: victimClosed.length === onVictim.length && victimClosed.every((log) => log.annotations.reason === "eof")
        },
        { name: "exit 0 once they finished", ok: code === 0 }
      ],
      durationMs: Date.now() - started
    })
    for (const [name, ok] of Object.entries(checks)) {
      assert.isTrue(ok, `${name}: ${failed.map((s) => s.failure()).join(", ")}`)
    }
  })

  it("SIGKILL one instance: only its connections fail, and echo-client --retries reconnects and finishes", {
    timeout: 240_000
  }, async (test) => {
    const { balancer, servers } = await startCluster(test, unitArgs())
    const started = Date.now()
    const message = "through HAProxy, whatever happens to the instance behind it"
    const count = 80
    const echoClient = run(
      test,
      [
        message,
        "--port",
        String(balancer.port),
        "--count",
        String(count),
        "--interval",
        "0.05",
        "--retries",
        "5",
        "--log-format",
        "json"
      ],
      {},
      { script: clientMain }
    )
    const victimIndex = await Promise.any(servers.map((server, i) => server.waitFor(isEchoClient).then(() => i)))
    const victim = servers[victimIndex]!
    const load = await streamers(balancer.port, 30, 2000, servers)
    const onVictim = new Set(load.filter((s) => servedBy(servers, s.localPort) === victimIndex))
    assert.isAbove(onVictim.size, 0, "the victim serves some of the streaming clients")
    // mid-session: some echoes done, most to come
    await until(() => echoClient.stdout().split("\n").length > 5, "the echo client's first echoes")
    victim.child.kill("SIGKILL")
    const killedAt = Date.now()
    await until(() => [...onVictim].every((s) => s.failure() !== undefined), "the victim's clients to fail")
    await sleep(500)
    await Promise.all(load.map((s) => s.stop()))
    const code = await deadline(echoClient.exit, 120_000, "the echo client to finish")
    const failed = load.filter((s) => s.failure() !== undefined)
    const othersIntact = load.filter((s) => !onVictim.has(s)).every((s) =>
      s.failure() === undefined && s.sent() === s.echoed()
    )
    const clientLog = echoClient.logs()
    const lost = clientLog.filter((log) => log.message.startsWith("connection lost, reconnecting in "))
    const connected = clientLog.filter((log) => log.message.startsWith("connected to")).length
    const checks = record({
      area: "balancer",
      scenario:
        `SIGKILL one of 3 instances behind HAProxy: 30 clients streaming, echo-client --count ${count} --retries 5`,
      figures: {
        "streaming clients": `${load.length} (${onVictim.size} on the killed instance)`,
        "failed": `${failed.length}: ${formatTally(tally(failed.map((s) => s.failure()!.replace(/ after .*/, ""))))}`,
        "echo-client": `exit ${code}, ${
          echoClient.stdout().split("\n").filter((l) => l.length > 0).length
        } of ${count} echoes printed, connections ${connected}, lost ${
          lost.map((log) => log.annotations.error).join(", ")
        }`,
        "kill to client done": `${Date.now() - killedAt} ms`
      },
      checks: [
        { name: "the killed instance's clients fail", ok: [...onVictim].every((s) => s.failure() !== undefined) },
        { name: "only they do: the others finish byte for byte", ok: othersIntact && failed.length === onVictim.size },
        {
          name: "echo-client logs the lost connection as a warning",
          ok: lost.length >= 1 && lost[0]!.level === "WARN"
        },
        {
          name: "echo-client reconnects and prints every echo once, exit 0",
          ok: code === 0 && echoClient.stdout() === `${message}\n`.repeat(count)
        }
      ],
      durationMs: Date.now() - started
    })
    for (const [name, ok] of Object.entries(checks)) assert.isTrue(ok, `${name}\n${echoClient.lines().join("\n")}`)
  })
})

describe("deploy/echo-server@.service", () => {
  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" })
  const missing = analyze.status === 0 ? undefined : "systemd-analyze is not installed"
  it.skipIf(missing !== undefined)(
    `passes systemd-analyze verify${missing === undefined ? "" : ` (skipped: ${missing})`}`,
    () => {
      // verify checks that ExecStart's program exists: a stand-in where the unit expects echo-server
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "echo-unit-"))
      try {
        const program = Path.join(folder, "echo-server")
        Fs.writeFileSync(program, "#!/bin/sh\n", { mode: 0o755 })
        const unit = Fs.readFileSync(unitFile, "utf8")
        assert.include(unit, "ExecStart=/usr/local/bin/echo-server ")
        Fs.writeFileSync(Path.join(folder, "echo-server@.service"), unit.replace("/usr/local/bin/echo-server", program))
        Fs.symlinkSync("echo-server@.service", Path.join(folder, "echo-server@1.service"))
        const result = spawnSync("systemd-analyze", ["verify", Path.join(folder, "echo-server@1.service")], {
          encoding: "utf8",
          timeout: 30_000
        })
        assert.strictEqual(result.status, 0, `${result.stdout}${result.stderr}`)
        assert.strictEqual(`${result.stdout}${result.stderr}`.trim(), "")
      } finally {
        Fs.rmSync(folder, { recursive: true, force: true })
      }
    }
  )

  it("its ExecStart is what the tests run: --proxy-protocol, JSON logs, a shutdown timeout below TimeoutStopSec", () => {
    const unit = Fs.readFileSync(unitFile, "utf8")
    assert.match(unit, /^ExecStart=\S+ --port 900%i /m)
    assert.include(unitArgs(), "--proxy-protocol")
    const shutdown = Number(unitArgs()[unitArgs().indexOf("--shutdown-timeout") + 1])
    const stop = Number(unit.match(/^TimeoutStopSec=(\d+)s$/m)?.[1])
    assert.isAbove(stop, shutdown)
  })
})
