// --retries resumes an echo session whose connection is lost mid-message: main.ts as a process against a
// node:net server on 127.0.0.1 (port 0) that breaks its first connection halfway through the echo of the
// second message, by a reset or by closing early. With --retries the client reconnects, sends that
// message again and finishes; without, it fails with the exit code of what happened.
import { assert, describe, it } from "@effect/vitest"
import { once } from "node:events"
import * as Net from "node:net"
import { lines, run } from "./helpers.ts"

type Break = "reset" | "end"

/**
 * An echo server whose first connection (or every one), once it has the first message and half of the
 * second, breaks.
 */
const breakingServer = async (how: Break, messageLength: number, every = false) => {
  let accepted = 0
  const sockets = new Set<Net.Socket>()
  const srv = Net.createServer({ allowHalfOpen: true }, (socket) => {
    const breaks = ++accepted === 1 || every
    let received = 0
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    socket.on("data", (data: Buffer) => {
      if (!breaks || socket.destroyed) return void socket.write(data)
      const cut = messageLength + Math.floor(messageLength / 2)
      const echoed = data.subarray(0, Math.max(0, cut - received))
      received += data.length
      socket.write(echoed)
      if (received < cut) return
      // half of the second message's echo went out: break the connection there
      if (how === "reset") socket.resetAndDestroy()
      else socket.end()
    })
    socket.on("end", () => socket.end())
  })
  srv.listen(0, "127.0.0.1")
  await once(srv, "listening")
  return {
    port: (srv.address() as Net.AddressInfo).port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => srv.close(() => resolve()))
    }
  }
}

const message = "a message whose echo is cut in two"
const args = (
  port: number
) => [message, "--count", "3", "--interval", "0.05", "--port", String(port), "--log-format", "json"]

const json = (stderr: string) => lines(stderr).map((line) => JSON.parse(line) as Record<string, unknown>)

describe.concurrent("a connection lost mid-message", () => {
  for (const [how, tag, code] of [["reset", "ConnectionResetError", 5], ["end", "EchoMismatchError", 7]] as const) {
    it(`(${how}) with --retries: reconnects, sends that message again, finishes with exit 0`, async () => {
      const srv = await breakingServer(how, message.length)
      try {
        const result = await run([...args(srv.port), "--retries", "2"])
        assert.strictEqual(result.code, 0, result.stderr)
        // every message once, whole: the partial echo of the lost connection was not printed
        assert.strictEqual(result.stdout.toString(), `${message}\n`.repeat(3))
        assert.strictEqual(srv.accepted(), 2)
        const entries = json(result.stderr)
        const lost = entries.filter((entry) => String(entry.message).startsWith("connection lost, reconnecting in "))
        assert.strictEqual(lost.length, 1, result.stderr)
        assert.strictEqual(lost[0]!.level, "WARN")
        assert.deepInclude(lost[0]!.annotations as object, { error: tag, attempt: 1, retries: 2 })
        assert.strictEqual(entries.filter((entry) => String(entry.message).startsWith("connected to")).length, 2)
        assert.match(String(entries.at(-1)!.message), new RegExp(`^3 of 3 echoes, ${3 * message.length} bytes`))
      } finally {
        await srv.close()
      }
    })

    it(`(${how}) without --retries: fails with exit ${code} (${tag}), after the first echo`, async () => {
      const srv = await breakingServer(how, message.length)
      try {
        const result = await run(args(srv.port))
        assert.strictEqual(result.code, code, result.stderr)
        assert.strictEqual(result.stdout.toString(), `${message}\n`)
        assert.strictEqual(srv.accepted(), 1)
        const last = json(result.stderr).at(-1)!
        assert.strictEqual(last.level, "ERROR")
        assert.include(String(last.message), tag)
      } finally {
        await srv.close()
      }
    })
  }

  it("with --retries 1, a second loss is one too many: exit 5, the last error", async () => {
    const srv = await breakingServer("reset", message.length, true)
    try {
      const result = await run([...args(srv.port), "--retries", "1"])
      assert.strictEqual(result.code, 5, result.stderr)
      assert.strictEqual(srv.accepted(), 2)
      // the first message on each connection came back whole
      assert.strictEqual(result.stdout.toString(), `${message}\n`.repeat(2))
      assert.include(String(json(result.stderr).at(-1)!.message), "ConnectionResetError")
    } finally {
      await srv.close()
    }
  })
})
