// The framed echo by hand on node:net, the reference for library-framed.ts: length-prefixed frames (a
// 4-byte big-endian length, then that many bytes), each echoed whole as soon as it is complete. What a
// careful node:net programmer writes: no copy for a frame inside one chunk, one concat when a frame
// spans chunks, a maximum frame size (8 MiB, as Tokio's LengthDelimitedCodec).
// Usage: node bench/peers/node-net-framed.ts [port]  (0 = any free port; prints the bound port on stdout)
import * as Net from "node:net"

const port = Number(process.argv[2] ?? 0)
const maxFrame = 8 * 1024 * 1024

const server = Net.createServer({ noDelay: true }, (socket) => {
  let rest: Buffer | undefined
  socket.on("data", (chunk: Buffer) => {
    const data = rest === undefined ? chunk : Buffer.concat([rest, chunk])
    let offset = 0
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset)
      if (length > maxFrame) return void socket.destroy()
      if (data.length - offset < 4 + length) break
      socket.write(data.subarray(offset, offset + 4 + length))
      offset += 4 + length
    }
    rest = offset === data.length ? undefined : data.subarray(offset)
  })
  socket.on("end", () => socket.end())
  socket.on("error", () => socket.destroy())
})

server.listen({ host: "127.0.0.1", port, backlog: 100 }, () => {
  process.stdout.write(`${(server.address() as Net.AddressInfo).port}\n`)
})
