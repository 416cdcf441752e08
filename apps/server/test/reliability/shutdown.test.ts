// Shutdown under load: SIGTERM while connections are mid-transfer. With room
// in the grace period every byte is echoed and the process exits 0 in time;
// with a grace period too short, the rest are closed, logged and counted.
import type * as Net from "node:net"
import { describe, expect, it } from "vitest"
import type { Server } from "../ServerProcess.ts"
import { connect, deadline, sleep, start } from "../ServerProcess.ts"
import { bytePool, closedLogs, codeOf, pool } from "./peers.ts"
import { bytes, flushAfterAll, formatTally, record, tally } from "./report.ts"
import { full, scale } from "./scale.ts"

flushAfterAll("shutdown")

const area = "shutdown"

const allTrue = (checks: Record<string, boolean>) => Object.fromEntries(Object.keys(checks).map((key) => [key, true]))

/** `length` bytes of connection `index`'s endless sequence from `offset` (cut from the byte pool). */
const sequence = (index: number, offset: number, length: number): Buffer => {
  const start = (index * 7919 + offset) % bytePool.length
  const end = start + length
  return end <= bytePool.length
    ? bytePool.subarray(start, end)
    : Buffer.concat([bytePool.subarray(start), bytePool.subarray(0, end - bytePool.length)])
}

interface Streamer {
  readonly socket: Net.Socket
  sent: number
  echoed: number
  mismatched: number
  error: string | undefined
  /** The connection is over (FIN, error or close). */
  over: boolean
  /** Resolves when the connection is over: the server's FIN, an error or the close. */
  readonly done: Promise<void>
  stop: () => void
}

/** Sends its sequence in 4 KiB pieces every 20 ms (backing off while 256 KiB wait), checking each echoed byte. */
const streamer = (socket: Net.Socket, index: number): Streamer => {
  const self: Streamer = {
    socket,
    sent: 0,
    echoed: 0,
    mismatched: 0,
    error: undefined,
    over: false,
    done: Promise.resolve(),
    stop: () => {}
  }
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded || socket.writableLength > 256 * 1024) return
    socket.write(sequence(index, self.sent, 4096))
    self.sent += 4096
  }, 20)
  self.stop = () => clearInterval(timer)
  socket.on("data", (chunk: Buffer) => {
    if (!chunk.equals(sequence(index, self.echoed, chunk.length))) self.mismatched++
    self.echoed += chunk.length
  })
  Object.assign(self, {
    done: new Promise<void>((resolve) => {
      socket.on("end", () => resolve())
      socket.on("close", () => resolve())
      socket.on("error", (error) => {
        self.error = codeOf(error)
        resolve()
      })
    }).finally(() => {
      self.over = true
      clearInterval(timer)
    })
  })
  return self
}

const streamers = async (server: Server, count: number): Promise<Array<Streamer>> =>
  pool(count, 20, async (i) => streamer(await deadline(connect(server.port), 10_000, "a connection"), i))

describe("shutdown under load", () => {
  it(
    `SIGTERM with ${scale.shutdownConnections} connections mid-transfer: every byte echoed, exit 0 within the grace period`,
    async (test) => {
      const started = Date.now()
      const grace = 5
      const server = await start(test, ["--shutdown-timeout", String(grace)])
      const peers = await streamers(server, scale.shutdownConnections)
      try {
        await sleep(full ? 1_000 : 500)
        const sentAtSignal = peers.map((peer) => peer.sent)
        const signalled = Date.now()
        server.child.kill("SIGTERM")
        const shuttingDown = await server.waitFor((log) => log.message === "Shutting down")
        // the peers notice, finish what they were sending, and half-close
        await sleep(300)
        for (const peer of peers) {
          peer.stop()
          peer.socket.end()
        }
        await deadline(Promise.all(peers.map((peer) => peer.done)), 15_000, "the echoes to end")
        const code = await deadline(server.exit, 15_000, "exit")
        const exitMs = Date.now() - signalled
        const closes = closedLogs(server)
        const reasons = tally(closes.map((log) => String(log.annotations.reason)))
        const sent = peers.reduce((n, peer) => n + peer.sent, 0)
        const echoed = peers.reduce((n, peer) => n + peer.echoed, 0)
        const checks = record({
          area,
          scenario: `SIGTERM, ${scale.shutdownConnections} connections mid-transfer, --shutdown-timeout ${grace}`,
          figures: {
            connections: peers.length,
            "active at the signal": Number(shuttingDown.annotations.active),
            "sent before the signal": bytes(sentAtSignal.reduce((n, m) => n + m, 0)),
            "sent in all": bytes(sent),
            echoed: bytes(echoed),
            corrupted: peers.reduce((n, peer) => n + peer.mismatched, 0),
            "peer errors": formatTally(tally(peers.flatMap((peer) => (peer.error === undefined ? [] : [peer.error])))),
            "closed as": formatTally(reasons),
            "exit code": String(code),
            "signal to exit": `${exitMs} ms`
          },
          checks: [
            {
              name: "every byte sent before the signal echoed",
              ok: peers.every((peer, i) => peer.echoed >= sentAtSignal[i]!)
            },
            {
              name: "and every byte after it, until the peer's FIN",
              ok: peers.every((peer) => peer.echoed === peer.sent)
            },
            { name: "no byte corrupted", ok: peers.every((peer) => peer.mismatched === 0) },
            { name: "no peer error", ok: peers.every((peer) => peer.error === undefined) },
            { name: "each logged as eof", ok: reasons.eof === peers.length },
            { name: "exit 0", ok: code === 0 },
            { name: `exit within the grace period (${grace} s)`, ok: exitMs <= grace * 1000 }
          ],
          durationMs: Date.now() - started
        })
        expect(checks).toEqual(allTrue(checks))
      } finally {
        for (const peer of peers) {
          peer.stop()
          peer.socket.destroy()
        }
      }
    },
    60_000
  )

  it(
    `SIGTERM with a grace period too short (0.5 s): the ${scale.shutdownConnections} still sending are closed and counted`,
    async (test) => {
      const started = Date.now()
      const grace = 0.5
      const server = await start(test, ["--shutdown-timeout", String(grace)])
      const peers = await streamers(server, scale.shutdownConnections)
      try {
        await sleep(full ? 1_000 : 500)
        const signalled = Date.now()
        server.child.kill("SIGTERM")
        const code = await deadline(server.exit, 15_000, "exit")
        const exitMs = Date.now() - signalled
        // they never half-close: the server closes them
        await deadline(Promise.all(peers.map((peer) => peer.done)), 10_000, "the connections to close").catch(() => {})
        const shuttingDown = server.logs().find((log) => log.message === "Shutting down")
        const stopped = server.logs().find((log) => log.message === "Stopped")
        const reasons = tally(closedLogs(server).map((log) => String(log.annotations.reason)))
        const endings = tally(peers.map((peer) => peer.error ?? "closed"))
        const checks = record({
          area,
          scenario: `SIGTERM, ${scale.shutdownConnections} connections still sending, --shutdown-timeout ${grace}`,
          figures: {
            connections: peers.length,
            "active at the signal": Number(shuttingDown?.annotations.active),
            "sent / echoed": `${bytes(peers.reduce((n, peer) => n + peer.sent, 0))} / ${
              bytes(peers.reduce((n, peer) => n + peer.echoed, 0))
            }`,
            corrupted: peers.reduce((n, peer) => n + peer.mismatched, 0),
            "server closed as": formatTally(reasons),
            "peers saw": formatTally(endings),
            "active when stopped": Number(stopped?.annotations.active),
            "exit code": String(code),
            "signal to exit": `${exitMs} ms`
          },
          checks: [
            { name: "the shutdown log counts them (active)", ok: shuttingDown?.annotations.active === peers.length },
            { name: "each logged as closed by the shutdown", ok: reasons.shutdown === peers.length },
            { name: "each peer sees its connection closed", ok: peers.every((peer) => peer.over) },
            {
              name: "what was echoed is what was sent (no corruption)",
              ok: peers.every((peer) => peer.mismatched === 0)
            },
            { name: "exit 0", ok: code === 0 },
            { name: "exit within the grace period + 1.5 s", ok: exitMs <= grace * 1000 + 1_500 }
          ],
          durationMs: Date.now() - started
        })
        expect(checks).toEqual(allTrue(checks))
      } finally {
        for (const peer of peers) {
          peer.stop()
          peer.socket.destroy()
        }
      }
    },
    60_000
  )
})
