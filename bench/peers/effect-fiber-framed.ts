// The floor under library-framed.ts: the framing by hand of node-net-framed.ts, run by one Effect fiber per
// connection that suspends on `Effect.callback` until the next chunk, as any Effect program reading a socket
// does. No library: what it costs over node-net-framed.ts is Effect's wake-up alone, and library-framed.ts can
// at best match it. Plain `node`, no V8 flags.
// Usage: node bench/peers/effect-fiber-framed.ts [port]  (0 = any free port; prints the bound port on stdout)
import { Effect } from "effect"
import * as Net from "node:net"

const port = Number(process.argv[2] ?? 0)
const maxFrame = 8 * 1024 * 1024

const serve = (socket: Net.Socket) => {
  let queued: Array<Buffer> = []
  let ended = false
  let waiter: ((chunks: Effect.Effect<ReadonlyArray<Buffer>>) => void) | undefined
  const wake = () => {
    const resume = waiter
    waiter = undefined
    const chunks = queued
    queued = []
    resume?.(Effect.succeed(chunks))
  }
  socket.on("data", (chunk: Buffer) => {
    queued.push(chunk)
    wake()
  })
  socket.on("end", () => {
    ended = true
    wake()
  })
  socket.on("error", () => socket.destroy())
  socket.on("close", () => {
    ended = true
    wake()
  })
  // the chunks that came since the last wait: at once if any, otherwise the next; none at the end
  const next = Effect.callback<ReadonlyArray<Buffer>>((resume) => {
    if (queued.length > 0 || ended) {
      const chunks = queued
      queued = []
      return resume(Effect.succeed(chunks))
    }
    waiter = resume
    return Effect.sync(() => {
      waiter = undefined
    })
  })
  let rest: Buffer | undefined
  const echo = (chunks: ReadonlyArray<Buffer>): boolean => {
    for (const chunk of chunks) {
      const data = rest === undefined ? chunk : Buffer.concat([rest, chunk])
      let offset = 0
      while (data.length - offset >= 4) {
        const length = data.readUInt32BE(offset)
        if (length > maxFrame) return false
        if (data.length - offset < 4 + length) break
        socket.write(data.subarray(offset, offset + 4 + length))
        offset += 4 + length
      }
      rest = offset === data.length ? undefined : data.subarray(offset)
    }
    return chunks.length > 0
  }
  const loop: Effect.Effect<void> = Effect.flatMap(next, (chunks) => echo(chunks) ? loop : Effect.void)
  Effect.runFork(loop).addObserver(() => (ended ? socket.end() : socket.destroy()))
}

const server = Net.createServer({ noDelay: true }, serve)
server.listen({ host: "127.0.0.1", port, backlog: 100 }, () => {
  process.stdout.write(`${(server.address() as Net.AddressInfo).port}\n`)
})
