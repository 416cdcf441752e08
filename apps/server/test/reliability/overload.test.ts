// Overload: connections beyond --max-connections are reset at once and
// counted while those inside the limit go on unaffected; running out of file
// descriptors (EMFILE, provoked with `ulimit -n 64`) does not crash the server,
// which serves again once connections close.
import { randomBytes } from "node:crypto"
import type * as Net from "node:net"
import { describe, expect, it } from "vitest"
import type { Server } from "../ServerProcess.ts"
import { connect, deadline, sleep, start } from "../ServerProcess.ts"
import { codeOf, echoLoad, pool, wellBehaved } from "./peers.ts"
import { bytes, flushAfterAll, formatTally, record, tally } from "./report.ts"
import { full, scale } from "./scale.ts"

flushAfterAll("overload")

const area = "overload"

const allTrue = (checks: Record<string, boolean>) => Object.fromEntries(Object.keys(checks).map((key) => [key, true]))

interface Attempt {
  /** How it ended: `closed` (the server closed it), an error code, or `open` (still open after 5 s). */
  readonly outcome: string
  readonly ms: number
  readonly echoed: number
}

/** Connects, sends a few bytes, and waits (at most `ms`) for the server to close it. */
const attempt = async (port: number, ms = 5_000): Promise<Attempt> => {
  const started = Date.now()
  let socket: Net.Socket | undefined
  try {
    socket = await deadline(connect(port), 10_000, "a connection")
    let echoed = 0
    const peer = socket
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("open"), ms)
      peer.on("data", (chunk: Buffer) => (echoed += chunk.length))
      peer.on("error", (error) => {
        clearTimeout(timer)
        resolve(codeOf(error))
      })
      peer.on("close", () => {
        clearTimeout(timer)
        resolve("closed")
      })
      peer.write("over the limit?")
    })
    return { outcome, ms: Date.now() - started, echoed }
  } catch (error) {
    return { outcome: codeOf(error), ms: Date.now() - started, echoed: 0 }
  } finally {
    socket?.destroy()
  }
}

const stop = async (server: Server) => {
  server.child.kill("SIGTERM")
  const code = await deadline(server.exit, 20_000, "exit")
  return { code, stopped: server.logs().find((log) => log.message === "Stopped") }
}

describe("overload", () => {
  it(
    `beyond --max-connections: ${scale.overflow} more are reset at once and counted, the others unaffected`,
    async (test) => {
      const started = Date.now()
      const limit = 20
      const server = await start(test, ["--max-connections", String(limit)])
      const opened = () => server.logs().filter((log) => log.message === "Connection opened").length
      const load = echoLoad(server.port, { connections: limit, durationMs: full ? 4_000 : 2_500, maxSize: 4096 })
      const until = Date.now() + 20_000
      while (opened() < limit && Date.now() < until) await sleep(50)
      const flood = await pool(scale.overflow, 10, () => attempt(server.port))
      const inside = await load
      // the slots are free again once the ones inside have closed
      await sleep(200)
      const after = await wellBehaved(server.port)
      const { code, stopped } = await stop(server)
      const outcomes = tally(flood.map((a) => a.outcome))
      const slowest = Math.max(...flood.map((a) => a.ms))
      const rejected = Number(stopped?.annotations.rejected)
      const checks = record({
        area,
        scenario: `--max-connections ${limit}: ${limit} echoing, ${scale.overflow} more connect`,
        figures: {
          "inside the limit": `${inside.connected} connections, ${inside.messages} messages, ${
            bytes(inside.bytesEchoed)
          } echoed, lost ${inside.lost}, corrupted ${inside.corrupted}, errors ${formatTally(inside.errors)}`,
          "over the limit": formatTally(outcomes),
          "closed within": `${slowest} ms`,
          "echoed to them": bytes(flood.reduce((n, a) => n + a.echoed, 0)),
          "counted rejected": rejected,
          "exit code": String(code)
        },
        checks: [
          {
            name: "each over the limit reset at once (< 1 s), never mistaken for a served connection",
            ok: flood.every((a) => a.outcome === "ECONNRESET") && slowest < 1_000
          },
          { name: "nothing echoed over the limit", ok: flood.every((a) => a.echoed === 0) },
          { name: "each counted as rejected", ok: rejected === scale.overflow },
          {
            name: "the ones inside: no byte lost or corrupted, no error",
            ok: inside.connected === limit && inside.lost === 0 && inside.corrupted === 0 &&
              Object.keys(inside.errors).length === 0
          },
          { name: "served again once below the limit", ok: after },
          { name: "exit 0", ok: code === 0 }
        ],
        durationMs: Date.now() - started
      })
      expect(checks).toEqual(allTrue(checks))
    },
    60_000
  )

  it(
    "out of file descriptors (ulimit -n 64, 100 connections): no crash, logged and counted, serves again",
    async (test) => {
      const started = Date.now()
      const server = await start(test, [], {}, { fileLimit: 64 })
      const connections = 100
      const sockets: Array<Net.Socket> = []
      let echoed = 0
      let closedByServer = 0
      const errors: Array<string> = []
      try {
        await pool(connections, 10, async () => {
          // turned away with a reset, which may come before the connect completes
          const socket = await deadline(connect(server.port), 10_000, "a connection").catch((error: unknown) => {
            errors.push(codeOf(error))
            closedByServer++
            return undefined
          })
          if (socket === undefined) return
          sockets.push(socket)
          socket.on("data", () => echoed++)
          socket.on("error", (error) => errors.push(codeOf(error)))
          socket.on("close", () => closedByServer++)
          socket.write(randomBytes(16))
        })
        await sleep(1_000)
        const alive = server.child.exitCode === null && server.child.signalCode === null
        const held = echoed
        const dropped = closedByServer
        for (const socket of sockets) socket.destroy()
        // once they are closed, it serves again
        await sleep(500)
        let servesAgain = false
        for (let i = 0; i < 10 && !servesAgain; i++) {
          servesAgain = await wellBehaved(server.port)
          if (!servesAgain) await sleep(500)
        }
        const logs = server.logs()
        const tooManyOpenFiles = logs.filter((log) => log.annotations.error === "TooManyOpenFilesError").length
        const { code, stopped } = await stop(server)
        const rejected = Number(stopped?.annotations.rejected)
        const checks = record({
          area,
          scenario: "EMFILE: server with ulimit -n 64, 100 connections at once",
          figures: {
            "accepted and echoed": held,
            "dropped by the server": dropped,
            "peer errors": formatTally(tally(errors)),
            "TooManyOpenFilesError logs": tooManyOpenFiles,
            "counted rejected": rejected,
            "exit code": String(code)
          },
          checks: [
            { name: "the server does not crash", ok: alive },
            { name: "serves again once connections close", ok: servesAgain },
            // found by this suite (libuv hid EMFILE: dropped silently, counted nowhere)
            { name: "logs TooManyOpenFilesError", ok: tooManyOpenFiles > 0, fixedIn: "6e24ff5" },
            { name: "counts the dropped connections", ok: rejected >= dropped, fixedIn: "6e24ff5" },
            { name: "exit 0", ok: code === 0 }
          ],
          durationMs: Date.now() - started
        })
        expect(checks).toEqual(allTrue(checks))
      } finally {
        for (const socket of sockets) socket.destroy()
      }
    },
    60_000
  )

  // found by this suite, fixed in 89b18d7 (slow readers were never idle-timed-out); long run only
  const runFull = full ? it : it.skip
  runFull("peers that stop reading do not hold every slot past the idle timeout", async (test) => {
    const started = Date.now()
    const limit = 3
    const server = await start(test, ["--max-connections", String(limit), "--idle-timeout", "1"])
    const stalled: Array<Net.Socket> = []
    try {
      const chunk = randomBytes(1024 * 1024)
      for (let i = 0; i < limit; i++) {
        const socket = await connect(server.port)
        socket.on("error", () => {})
        socket.pause()
        for (let j = 0; j < 16; j++) socket.write(chunk)
        stalled.push(socket)
      }
      // three idle timeouts later, a new client
      await sleep(3_000)
      const newcomer = await attempt(server.port, 2_000)
      const stillOpen = stalled.filter((socket) => !socket.destroyed).length
      const checks = record({
        area,
        scenario: `--max-connections ${limit} --idle-timeout 1: ${limit} peers send 16 MiB each and never read`,
        figures: {
          "stalled peers still connected after 3 s": stillOpen,
          "a new client after 3 s": newcomer.echoed > 0 ? "served" : `${newcomer.outcome} (rejected)`,
          "echoed to it": bytes(newcomer.echoed)
        },
        checks: [{
          name: "a new client is served once the idle timeout has passed",
          ok: newcomer.echoed > 0,
          fixedIn: "89b18d7"
        }],
        durationMs: Date.now() - started
      })
      expect(checks).toEqual({ "a new client is served once the idle timeout has passed": true })
    } finally {
      for (const socket of stalled) socket.destroy()
    }
  }, 60_000)
})
