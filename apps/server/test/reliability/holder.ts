// A client process that holds many idle connections to 127.0.0.1:<port>, so
// that the test process need not hold their file descriptors itself (it is
// started with its own `ulimit -n`). Not a test: run by load.test.ts as
//   node holder.ts <port> <count> <max seconds>
// It prints one JSON line once the connections are open ({ opened, errors }),
// then answers commands on stdin: `ping` (one byte on each connection, echoed
// back within 20 s: { alive, dead, errors }), `close` (closes all, exits).
// It exits on its own after <max seconds>, or when stdin ends.
import * as Net from "node:net"
import * as Readline from "node:readline"

const [port, count, maxSeconds] = process.argv.slice(2).map(Number)
const sockets: Array<Net.Socket> = []
const errors: Record<string, number> = {}
const fail = (
  error: NodeJS.ErrnoException
) => (errors[error.code ?? error.message] = (errors[error.code ?? error.message] ?? 0) + 1)
const print = (value: unknown) => process.stdout.write(JSON.stringify(value) + "\n")

setTimeout(() => process.exit(3), maxSeconds! * 1000).unref()

const open = () =>
  new Promise<void>((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port: port! })
    const timer = setTimeout(() => {
      fail({ name: "Error", message: "ConnectTimeout", code: "ConnectTimeout" })
      socket.destroy()
      resolve()
    }, 30_000)
    socket.once("connect", () => {
      clearTimeout(timer)
      sockets.push(socket)
      resolve()
    })
    socket.once("error", (error) => {
      clearTimeout(timer)
      fail(error)
      resolve()
    })
  })

const openAll = async () => {
  let next = 0
  const worker = async () => {
    while (next < count!) {
      next++
      await open()
    }
  }
  await Promise.all(Array.from({ length: 50 }, worker))
  print({ opened: sockets.length, errors })
}

const ping = async () => {
  const pingErrors: Record<string, number> = {}
  const results = await Promise.all(sockets.map((socket) =>
    new Promise<boolean>((resolve) => {
      if (socket.destroyed) return resolve(false)
      const timer = setTimeout(() => resolve(false), 20_000)
      socket.once("data", (data: Buffer) => {
        clearTimeout(timer)
        resolve(data.length === 1 && data[0] === 0x21)
      })
      socket.once("error", (error: NodeJS.ErrnoException) => {
        pingErrors[error.code ?? error.message] = (pingErrors[error.code ?? error.message] ?? 0) + 1
        clearTimeout(timer)
        resolve(false)
      })
      socket.write("!")
    })
  ))
  const alive = results.filter(Boolean).length
  print({ alive, dead: results.length - alive, errors: pingErrors })
}

const close = () => {
  for (const socket of sockets) socket.destroy()
  process.exit(0)
}

const lines = Readline.createInterface({ input: process.stdin })
lines.on("line", (line) => {
  if (line === "ping") void ping()
  if (line === "close") close()
})
lines.on("close", close)

void openAll()
