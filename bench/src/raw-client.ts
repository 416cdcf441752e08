/**
 * The raw load generator: a closed loop on plain `node:net`, nothing else on its data path, to tell
 * whether `apps/client bench` (on Effect) is fast enough to measure a server, and to run the cells when it
 * is not.
 *
 * N connections; each sends one message of S bytes, waits for all S bytes back, sends the next. After
 * the warm-up it counts the round trips completed in the measured window and their latencies, then prints
 * one JSON object on stdout in the shape of `apps/client bench --json` (`@effect-tcp/client/Summary`, which
 * the bench decodes it with), and logs `connections open` on stderr when the load starts, as that client does.
 *
 *   node bench/src/raw-client.ts --port P --connections N --size S --duration SECONDS --warmup SECONDS
 *                                [--tls --ca CA.pem [--servername NAME]]
 *
 * `--tls` drives a TLS echo server on plain `node:tls` instead, verifying its certificate against `--ca` (the
 * bench's own CA, made at run time) and the name `--servername` (default `localhost`); the load starts once
 * every handshake is done.
 * Each message is also one length-prefixed frame (a 4-byte big-endian length of the rest, then the rest), so
 * the framed echo servers (`node-net-framed`, `library-framed`) answer it as the plain ones do.
 * The bytes are counted, not compared: an echo server that answers the right number of bytes passes.
 * A connection that fails is counted in `errors` by its error code and not reopened.
 */
import type { Summary } from "@effect-tcp/client/Summary"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    connections: { type: "string", default: "10" },
    size: { type: "string", default: "1024" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    json: { type: "boolean", default: true },
    tls: { type: "boolean", default: false },
    ca: { type: "string" },
    servername: { type: "string", default: "localhost" }
  }
})

const port = Number(values.port)
const connections = Number(values.connections)
const size = Number(values.size)
const durationSeconds = Number(values.duration)
const warmupSeconds = Number(values.warmup)
for (const [name, value] of Object.entries({ port, connections, size })) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`raw-client: --${name} must be a whole number from 1\n`)
    process.exit(2)
  }
}
if (values.tls && values.ca === undefined) {
  process.stderr.write("raw-client: --tls needs --ca, the CA that signed the server's certificate\n")
  process.exit(2)
}
const ca = values.ca === undefined ? undefined : Fs.readFileSync(values.ca)

/** Latencies of the measured round trips, in µs, in a growing typed array (no object per sample). */
let latencies = new Float64Array(1 << 20)
let count = 0
const record = (micros: number) => {
  if (count === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2)
    bigger.set(latencies)
    latencies = bigger
  }
  latencies[count++] = micros
}

const errors: Record<string, number> = {}
const payload = Buffer.alloc(size, 0x61)
if (size >= 4) payload.writeUInt32BE(size - 4, 0)
let phase: "connecting" | "warmup" | "measuring" | "done" = "connecting"
let requests = 0

const loop = (socket: Net.Socket) => {
  let received = 0
  let sentAt = 0
  const send = () => {
    received = 0
    sentAt = performance.now()
    socket.write(payload)
  }
  socket.on("data", (data) => {
    received += data.length
    if (received < size) return
    if (received > size) {
      errors["EchoMismatchError"] = (errors["EchoMismatchError"] ?? 0) + 1
      socket.destroy()
      return
    }
    if (phase === "measuring") {
      requests++
      record((performance.now() - sentAt) * 1000)
    }
    if (phase !== "done") send()
  })
  return send
}

const open = (): Promise<Net.Socket> =>
  new Promise((resolve, reject) => {
    if (values.tls) {
      const socket = Tls.connect({
        host: values.host,
        port,
        servername: values.servername,
        ...(ca === undefined ? {} : { ca })
      })
      socket.setNoDelay(true)
      socket.once("secureConnect", () => resolve(socket))
      socket.once("error", reject)
      return
    }
    const socket = Net.connect({ host: values.host, port, noDelay: true })
    socket.once("connect", () => resolve(socket))
    socket.once("error", reject)
  })

/** The value at quantile `q` of the sorted samples (nearest rank), rounded to the µs. */
const quantile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0
    ? 0
    : Math.round(sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1))]!)

const main = async () => {
  const sockets = await Promise.all(Array.from({ length: connections }, open))
  const senders = sockets.map((socket) => {
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (phase === "done") return
      const code = error.code ?? "Error"
      errors[code] = (errors[code] ?? 0) + 1
    })
    return loop(socket)
  })
  process.stderr.write(`raw-client: ${connections} connections open\n`)
  phase = "warmup"
  for (const send of senders) send()
  await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000))
  phase = "measuring"
  const from = performance.now()
  await new Promise((resolve) => setTimeout(resolve, durationSeconds * 1000))
  phase = "done"
  const seconds = (performance.now() - from) / 1000
  for (const socket of sockets) socket.destroy()
  const sorted = latencies.subarray(0, count).toSorted()
  const summary: Summary = {
    connections,
    size,
    durationSeconds: seconds,
    requests,
    bytes: requests * size,
    requestsPerSecond: requests / seconds,
    mibPerSecond: (requests * size) / seconds / 2 ** 20,
    latencyMicros: {
      min: quantile(sorted, 0),
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      p999: quantile(sorted, 0.999),
      max: quantile(sorted, 1)
    },
    errors
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`raw-client: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
