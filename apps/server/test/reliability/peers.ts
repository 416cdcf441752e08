// Peers for the reliability suite, on plain node:net (the right tool for
// hostile ones), and what the suite reads of the server process (/proc).
// Every loop here is bounded in count and in time; all traffic goes to 127.0.0.1.
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { afterAll } from "vitest"
import type { Log, Process } from "../ServerProcess.ts"
import { connect, deadline, received } from "../ServerProcess.ts"

export const host = "127.0.0.1"

/** The process's resident memory now and at its peak, in KiB (/proc/<pid>/status). */
export const memory = (pid: number): { readonly rssKiB: number; readonly peakKiB: number } => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN)
  return { rssKiB: field("VmRSS"), peakKiB: field("VmHWM") }
}

/** Open file descriptors of the process. */
export const openFiles = (pid: number): number => Fs.readdirSync(`/proc/${pid}/fd`).length

export const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`

/** A well-behaved client: sends `size` bytes, half-closes, and checks the echo byte for byte. */
export const wellBehaved = async (port: number, size = 64 * 1024): Promise<boolean> => {
  const socket = await deadline(connect(port), 10_000, "a connection")
  try {
    const sent = randomBytes(size)
    const echo = received(socket, 10_000)
    socket.end(sent)
    return (await echo).equals(sent)
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

/** Error codes seen by peers, as a tally. */
export const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error ? String(error.code) : String(error)

/** Runs `task` for 0..n-1 with at most `concurrency` at a time. */
export const pool = async <A>(n: number, concurrency: number, task: (i: number) => Promise<A>): Promise<Array<A>> => {
  const out = Array.from<A | undefined>({ length: n }) as Array<A>
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      out[i] = await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker))
  return out
}

/** The server's "Connection closed" lines. */
export const closedLogs = (server: Process): ReadonlyArray<Log> =>
  server.logs().filter((log) => log.message === "Connection closed")

/** How the server logged the closing of the connection from this local port. */
export const closeOf = (server: Process, localPort: number, ms = 10_000): Promise<Log> =>
  server.waitFor((log) => log.message === "Connection closed" && log.annotations.peer === `${host}:${localPort}`, ms)

/** Tag (or reason) of each closed connection, tallied. */
export const closeTags = (logs: ReadonlyArray<Log>): Array<string> =>
  logs.map((log) => String(log.annotations.error ?? log.annotations.reason))

/** A pool of random bytes that messages are cut from (compared with memcmp, not byte by byte in JS). */
export const bytePool = randomBytes(1024 * 1024)

export interface EchoLoad {
  readonly connections: number
  readonly connected: number
  readonly messages: number
  readonly bytesSent: number
  readonly bytesEchoed: number
  /** Messages whose echo differed from what was sent. */
  readonly corrupted: number
  /** Bytes sent and never echoed. */
  readonly lost: number
  readonly errors: Record<string, number>
  readonly durationMs: number
}

/**
 * `connections` clients, each in a closed loop for `durationMs`: send a message
 * (a slice of `bytePool`, 1..`maxSize` bytes), wait for its whole echo, compare,
 * repeat; then half-close and wait for the server's FIN. Every byte is checked:
 * a byte too many, too few or different is counted.
 */
export const echoLoad = async (
  port: number,
  options: { readonly connections: number; readonly durationMs: number; readonly maxSize: number }
): Promise<EchoLoad> => {
  const errors: Record<string, number> = {}
  const fail = (code: string) => (errors[code] = (errors[code] ?? 0) + 1)
  let connected = 0
  let messages = 0
  let bytesSent = 0
  let bytesEchoed = 0
  let corrupted = 0
  const started = Date.now()
  const sockets = await pool(options.connections, 64, async () => {
    try {
      const socket = await deadline(connect(port), 20_000, "a connection")
      connected++
      return socket
    } catch (error) {
      fail(codeOf(error))
      return undefined
    }
  })
  const loadStarted = Date.now()
  const until = loadStarted + options.durationMs
  const run = (socket: Net.Socket, index: number) =>
    new Promise<void>((resolve) => {
      let expected: Buffer | undefined
      let got: Array<Buffer> = []
      let gotLength = 0
      let seed = index * 7919
      let done = false
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(guard)
        socket.destroy()
        resolve()
      }
      const guard = setTimeout(() => {
        fail("StalledPeer")
        finish()
      }, options.durationMs + 30_000)
      const send = () => {
        if (Date.now() >= until) {
          expected = undefined
          socket.end()
          return
        }
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        const size = 1 + (seed % options.maxSize)
        const offset = seed % (bytePool.length - size)
        expected = bytePool.subarray(offset, offset + size)
        got = []
        gotLength = 0
        messages++
        bytesSent += size
        socket.write(expected)
      }
      socket.on("data", (chunk: Buffer) => {
        bytesEchoed += chunk.length
        if (expected === undefined) {
          corrupted++ // bytes nobody asked for
          return
        }
        got.push(chunk)
        gotLength += chunk.length
        if (gotLength < expected.length) return
        if (gotLength > expected.length || !Buffer.concat(got, gotLength).equals(expected)) corrupted++
        send()
      })
      socket.on("end", finish)
      socket.on("error", (error) => {
        fail(codeOf(error))
        finish()
      })
      send()
    })
  await Promise.all(sockets.map((socket, i) => (socket === undefined ? undefined : run(socket, i))))
  return {
    connections: options.connections,
    connected,
    messages,
    bytesSent,
    bytesEchoed,
    corrupted,
    lost: Math.max(0, bytesSent - bytesEchoed),
    errors,
    durationMs: Date.now() - started
  }
}

/** For processes started in beforeAll: killed in the file's afterAll. */
export const fileOwner = (): { readonly onTestFinished: (fn: () => void) => void } => {
  const cleanups: Array<() => void> = []
  afterAll(() => {
    for (const cleanup of cleanups.splice(0)) cleanup()
  })
  return { onTestFinished: (fn) => cleanups.push(fn) }
}
