// Load: many concurrent connections echoing with every byte checked, then
// many idle connections held at once (by a client process of its own, with
// its own `ulimit -n`). One server for the file, with its soft fd limit raised.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"
import type { Server } from "../ServerProcess.ts"
import { deadline, sleep, start } from "../ServerProcess.ts"
import { closedLogs, echoLoad, fileOwner, memory, mib, wellBehaved } from "./peers.ts"
import { bytes, flushAfterAll, formatTally, record, tally } from "./report.ts"
import { scale, timeout } from "./scale.ts"

flushAfterAll("load")

const area = "load"
const holderScript = fileURLToPath(new URL("holder.ts", import.meta.url))
/** The hard limit of open files per process on these machines. */
const fileLimit = 20_000

const owner = fileOwner()
let server: Server

beforeAll(async () => {
  // the cap above the idle connections; the default cap is checked in security.test.ts
  server = await start(owner, ["--max-connections", String(scale.idleConnections + 1000)], {}, { fileLimit })
}, 60_000)

const allTrue = (checks: Record<string, boolean>) => Object.fromEntries(Object.keys(checks).map((key) => [key, true]))

const lastConnectionId = (): number =>
  Math.max(0, ...server.logs().map((log) => Number(log.annotations.connectionId ?? 0)))

describe("load", () => {
  it(
    `${scale.echoConnections} concurrent connections echo for ${scale.echoSeconds} s: no byte lost or corrupted`,
    async () => {
      const started = Date.now()
      const before = lastConnectionId()
      const load = await echoLoad(server.port, {
        connections: scale.echoConnections,
        durationMs: scale.echoSeconds * 1000,
        maxSize: 4096
      })
      // the server's own account of each of them
      const until = Date.now() + 20_000
      const ours = () => closedLogs(server).filter((log) => Number(log.annotations.connectionId) > before)
      while (ours().length < load.connected && Date.now() < until) await sleep(100)
      const closes = ours()
      const serverIn = closes.reduce((n, log) => n + Number(log.annotations.bytesIn), 0)
      const serverOut = closes.reduce((n, log) => n + Number(log.annotations.bytesOut), 0)
      const reasons = tally(closes.map((log) => String(log.annotations.error ?? log.annotations.reason)))
      const seconds = load.durationMs / 1000
      const checks = record({
        area,
        scenario: `${scale.echoConnections} connections echoing for ${scale.echoSeconds} s, every byte checked`,
        figures: {
          connections: `${load.connected}/${load.connections}`,
          messages: load.messages,
          bytes: `${bytes(load.bytesSent)} sent, ${bytes(load.bytesEchoed)} echoed (${
            (load.bytesEchoed / 2 ** 20 / seconds).toFixed(1)
          } MiB/s)`,
          lost: load.lost,
          corrupted: load.corrupted,
          "peer errors": formatTally(load.errors),
          "server closed as": formatTally(reasons),
          "server counted": `${bytes(serverIn)} in, ${bytes(serverOut)} out`
        },
        checks: [
          { name: "every connection connected", ok: load.connected === load.connections },
          { name: "zero bytes lost", ok: load.lost === 0 && load.bytesEchoed === load.bytesSent },
          { name: "zero corrupted", ok: load.corrupted === 0 },
          { name: "zero errors", ok: Object.keys(load.errors).length === 0 },
          { name: "server logged each as eof", ok: reasons.eof === load.connections },
          { name: "server counted the same bytes", ok: serverIn === load.bytesSent && serverOut === load.bytesSent }
        ],
        durationMs: Date.now() - started
      })
      expect(checks).toEqual(allTrue(checks))
    },
    timeout(45_000, 120_000)
  )

  it(`${scale.idleConnections} idle connections held at once, each still echoing`, async () => {
    const started = Date.now()
    const pid = server.child.pid!
    const before = memory(pid).rssKiB
    let holder: ChildProcess | undefined
    try {
      holder = spawn(
        "bash",
        [
          "-c",
          `ulimit -n ${fileLimit} && exec "$@"`,
          "bash",
          process.execPath,
          holderScript,
          String(server.port),
          String(scale.idleConnections),
          "240"
        ],
        { stdio: ["pipe", "pipe", "inherit"] }
      )
      const replies = Readline.createInterface({ input: holder.stdout! })
      const queue: Array<Record<string, unknown>> = []
      const waiting: Array<(value: Record<string, unknown>) => void> = []
      replies.on("line", (line) => {
        const value = JSON.parse(line) as Record<string, unknown>
        const next = waiting.shift()
        if (next !== undefined) next(value)
        else queue.push(value)
      })
      const reply = (what: string) =>
        deadline(
          new Promise<Record<string, unknown>>((resolve) => {
            const first = queue.shift()
            if (first !== undefined) resolve(first)
            else waiting.push(resolve)
          }),
          120_000,
          what
        )
      const opened = await reply("the connections to open")
      const openMs = Date.now() - started
      // a byte on each: echoed back, also by those still waiting in the kernel's accept queue
      holder.stdin!.write("ping\n")
      const ping = await reply("the ping")
      // the server has accepted them all: its open connections (opened minus closed in its log)
      const until = Date.now() + 30_000
      const active = () =>
        server.logs().filter((log) => log.message === "Connection opened").length - closedLogs(server).length
      while (active() < Number(opened.opened) && Date.now() < until) await sleep(200)
      const held = active()
      const during = memory(pid).rssKiB
      const echoOk = await wellBehaved(server.port)
      holder.stdin!.write("close\n")
      await deadline(new Promise((resolve) => holder!.on("exit", resolve)), 10_000, "the holder to exit")
      const perConnection = ((during - before) * 1024) / Math.max(1, held)
      const checks = record({
        area,
        scenario: `${scale.idleConnections} idle connections held (client process with ulimit -n ${fileLimit})`,
        figures: {
          opened: `${opened.opened}/${scale.idleConnections} in ${(openMs / 1000).toFixed(1)} s`,
          "held by the server": held,
          "still echoing": `${ping.alive}/${opened.opened}`,
          "peer errors": formatTally({
            ...(opened.errors as Record<string, number>),
            ...(ping.errors as Record<string, number>)
          }),
          "server RSS": `${mib(before)} → ${mib(during)} (${bytes(perConnection)} a connection)`
        },
        checks: [
          { name: "every connection opened", ok: opened.opened === scale.idleConnections },
          { name: "the server holds them all", ok: held >= scale.idleConnections },
          { name: "each still echoes", ok: ping.alive === scale.idleConnections },
          { name: "a well-behaved client is echoed meanwhile", ok: echoOk }
        ],
        durationMs: Date.now() - started
      })
      expect(checks).toEqual(allTrue(checks))
    } finally {
      if (holder !== undefined && holder.exitCode === null && holder.signalCode === null) holder.kill("SIGKILL")
    }
  }, timeout(60_000, 300_000))

  it("the server stops cleanly after the load: exit 0, nothing left open", async () => {
    const started = Date.now()
    // the held connections are closed by their peer: wait until the server saw every close
    const until = Date.now() + 30_000
    const opened = () => server.logs().filter((log) => log.message === "Connection opened").length
    while (closedLogs(server).length < opened() && Date.now() < until) await sleep(200)
    server.child.kill("SIGTERM")
    const code = await deadline(server.exit, 30_000, "exit")
    const stopped = server.logs().find((log) => log.message === "Stopped")
    const unexpected = closedLogs(server).filter((log) => log.annotations.reason === "error").length
    const checks = record({
      area,
      scenario: "SIGTERM after the load",
      figures: {
        "exit code": String(code),
        accepted: Number(stopped?.annotations.accepted),
        rejected: Number(stopped?.annotations.rejected),
        "bytes in/out": `${bytes(Number(stopped?.annotations.bytesIn))} / ${
          bytes(Number(stopped?.annotations.bytesOut))
        }`,
        "closed for an unexpected reason": unexpected
      },
      checks: [
        { name: "exit 0", ok: code === 0 },
        { name: "nothing open at the end", ok: stopped?.annotations.active === 0 },
        { name: "every byte in went out", ok: stopped?.annotations.bytesIn === stopped?.annotations.bytesOut },
        { name: "no close for an unexpected reason", ok: unexpected === 0 }
      ],
      durationMs: Date.now() - started
    })
    expect(checks).toEqual(allTrue(checks))
  }, 60_000)
})
