/**
 * Holds many idle connections to a server, for the memory measurement; runs as its
 * own process (a process may hold at most 20,000 file descriptors, server and client
 * side together would not fit).
 *
 * Usage: node bench/src/idle-connections.ts <port> <count> [batch]
 *
 * Opens `count` connections to 127.0.0.1:<port>, `batch` at a time; on each it sends one
 * byte as a length-prefixed frame (so the framed echo servers answer too) and waits for its echo, so the server has surely accepted and served it. Then it
 * prints `ready <count>` and holds them idle until its stdin ends (or SIGTERM), closes
 * them all and exits. On any failure it prints `error <message>` and exits 1.
 */
import * as Net from "node:net"

const [port, count, batch] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4] ?? 100)]
const sockets: Array<Net.Socket> = []
/** "x" behind its 4-byte big-endian length. */
const oneByteFrame = Buffer.from([0, 0, 0, 1, 0x78])

const fail = (message: string) => {
  process.stdout.write(`error ${message}\n`)
  for (const socket of sockets) socket.destroy()
  process.exit(1)
}

const open = () =>
  new Promise<void>((resolve, reject) => {
    const socket = Net.connect({ host: "127.0.0.1", port, noDelay: true })
    sockets.push(socket)
    socket.once("connect", () => socket.write(oneByteFrame))
    socket.once("data", () => resolve())
    socket.on("error", reject)
    socket.once("close", () => reject(new Error(`connection ${sockets.length} closed by the server`)))
  })

const closeAll = () => {
  for (const socket of sockets) socket.destroy()
  process.exit(0)
}

const main = async () => {
  if (!(port > 0 && count > 0 && batch > 0)) fail("usage: idle-connections.ts <port> <count> [batch]")
  for (let opened = 0; opened < count; opened += batch) {
    const n = Math.min(batch, count - opened)
    await Promise.all(Array.from({ length: n }, open))
  }
  process.stdout.write(`ready ${sockets.length}\n`)
  process.stdin.resume()
  process.stdin.on("end", closeAll)
  process.on("SIGTERM", closeAll)
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)))
