// End to end: main.ts as a process on loopback (127.0.0.1, port 0 only, through ServerProcess.ts),
// talked to with node:net. Every spawned process is killed when its test ends.
import { assert, describe, it } from "@effect/vitest"
import { once } from "node:events"
import * as Net from "node:net"
import { alive, connect, deadline, patience, payload, received, run, sleep, start } from "./ServerProcess.ts"

describe.concurrent("echo-server as a process", () => {
  it("echoes, logs one JSON object a line, and exits 0 on SIGTERM", async (test) => {
    const server = await start(test)
    const socket = await connect(server.port)
    const localPort = socket.localPort
    const echo = received(socket)
    const sent = Buffer.concat([Buffer.from("Hello World!"), payload(256 * 1024, 1)])
    socket.end(sent)
    assert.isTrue((await echo).equals(sent))
    await server.waitFor((log) => log.message === "Connection closed")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)

    const logs = server.logs() // throws if any line is not one JSON object
    const serving = logs.find((log) => log.message.startsWith("Serving on "))!
    assert.strictEqual(serving.message, `Serving on 127.0.0.1:${server.port}`)
    assert.strictEqual(serving.annotations.backlog, 100)
    assert.strictEqual(serving.annotations.maxConnections, 10000)
    assert.strictEqual(serving.annotations.idleTimeoutSeconds, 300)
    const opened = logs.find((log) => log.message === "Connection opened")!
    assert.strictEqual(opened.annotations.peer, `127.0.0.1:${localPort}`)
    assert.strictEqual(opened.annotations.SO_REUSEADDR, "1")
    for (const option of ["SO_REUSEPORT", "SO_RCVBUF", "SO_SNDBUF"]) assert.isString(opened.annotations[option])
    const closed = logs.find((log) => log.message === "Connection closed")!
    assert.strictEqual(closed.annotations.connectionId, opened.annotations.connectionId)
    assert.strictEqual(closed.annotations.reason, "eof")
    assert.strictEqual(closed.annotations.bytesIn, sent.length)
    assert.strictEqual(closed.annotations.bytesOut, sent.length)
    assert.strictEqual(logs.find((log) => log.message === "Shutting down")!.annotations.signal, "SIGTERM")
    const stopped = logs.find((log) => log.message === "Stopped")!
    assert.deepStrictEqual(stopped.annotations, {
      active: 0,
      accepted: 1,
      rejected: 0,
      failed: 0,
      bytesIn: sent.length,
      bytesOut: sent.length
    })
  })

  it.for<readonly [ReadonlyArray<string>, Record<string, string>, string]>([
    [["--port", "70000"], {}, "--port"],
    [["--backlog", "abc"], {}, "--backlog"],
    [["--bogus"], {}, "--bogus"],
    [["--idle-timeout", "soon"], {}, "--idle-timeout"],
    [[], { ECHO_PORT: "70000" }, "--port"],
    [[], { ECHO_LOG_LEVEL: "loud" }, "ECHO_LOG_LEVEL"],
    [["--proxy-protocol", "--trusted-proxies", "10.0.0.1/8"], {}, "--trusted-proxies: \"10.0.0.1/8\""],
    [[], { ECHO_PROXY_PROTOCOL: "true", ECHO_TRUSTED_PROXIES: "10.0.0.0/8,proxy.local" }, "\"proxy.local\""],
    [["--trusted-proxies", "10.0.0.0/8"], {}, "needs --proxy-protocol"]
  ])("rejects %j %j with one line and exit 2, binding nothing", async ([args, env, named], test) => {
    const server = run(test, args, env)
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 2)
    const lines = server.lines()
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.include(lines[0], named)
    assert.notInclude(lines[0], "Serving")
  })

  it("reads its flags from ECHO_* variables", async (test) => {
    const server = run(test, [], {
      ECHO_PORT: "0",
      ECHO_LOG_FORMAT: "json",
      ECHO_BACKLOG: "7",
      ECHO_MAX_CONNECTIONS: "3",
      ECHO_IDLE_TIMEOUT: "2 minutes"
    })
    const serving = await server.waitFor((log) => log.message.startsWith("Serving on "))
    assert.strictEqual(serving.annotations.backlog, 7)
    assert.strictEqual(serving.annotations.maxConnections, 3)
    assert.strictEqual(serving.annotations.idleTimeoutSeconds, 120)
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("fails with one line naming the address and exit 1 when the port is in use", async (test) => {
    const blocker = Net.createServer()
    blocker.listen(0, "127.0.0.1")
    await once(blocker, "listening")
    try {
      const port = (blocker.address() as Net.AddressInfo).port
      const server = run(test, ["--port", String(port), "--log-format", "pretty"])
      assert.strictEqual(await deadline(server.exit, patience, "exit"), 1)
      const lines = server.lines()
      assert.strictEqual(lines.length, 1, lines.join("\n"))
      assert.include(lines[0], "AddressInUseError")
      assert.include(lines[0], `127.0.0.1:${port}`)
    } finally {
      blocker.close()
    }
  })

  it("on SIGTERM: refuses new connections, lets a connection still sending finish, loses no byte, exits 0", async (test) => {
    const server = await start(test)
    const socket = await connect(server.port)
    const echo = received(socket)
    const sent: Array<Buffer> = []
    const send = (seed: number) => {
      const chunk = payload(16 * 1024, seed)
      sent.push(chunk)
      socket.write(chunk)
    }
    for (let i = 0; i < 5; i++) send(i)
    await server.waitFor((log) => log.message === "Connection opened")
    server.child.kill("SIGTERM")
    await server.waitFor((log) => log.message === "Shutting down")
    // the listener is closed at once
    const refused = Net.connect({ port: server.port, host: "127.0.0.1" })
    const [error] = (await deadline(once(refused, "error"), 5_000, "refusal")) as [NodeJS.ErrnoException]
    assert.strictEqual(error.code, "ECONNREFUSED")
    // the open connection goes on
    for (let i = 5; i < 20; i++) {
      send(i)
      await sleep(10)
    }
    socket.end()
    assert.isTrue((await echo).equals(Buffer.concat(sent)))
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
    const closed = server.logs().find((log) => log.message === "Connection closed")!
    assert.strictEqual(closed.annotations.reason, "eof")
    assert.strictEqual(closed.annotations.bytesOut, 20 * 16 * 1024)
  })

  it("closes what is still open when --shutdown-timeout runs out, then exits 0", async (test) => {
    const server = await start(test, ["--shutdown-timeout", "0.3"])
    const socket = await connect(server.port)
    const closedBy = new Promise<void>((resolve) => socket.on("close", () => resolve()))
    socket.on("error", () => {})
    await server.waitFor((log) => log.message === "Connection opened")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
    await deadline(closedBy, 5_000, "the connection to close")
    const closed = server.logs().find((log) => log.message === "Connection closed")!
    assert.strictEqual(closed.annotations.reason, "shutdown")
  })

  it("exits at once with 130 on a second signal", async (test) => {
    const server = await start(test, ["--shutdown-timeout", "60"])
    const socket = await connect(server.port)
    socket.on("error", () => {})
    await server.waitFor((log) => log.message === "Connection opened")
    server.child.kill("SIGINT")
    await server.waitFor((log) => log.message === "Shutting down")
    server.child.kill("SIGINT")
    assert.strictEqual(await deadline(server.exit, 10_000, "exit"), 130)
    socket.destroy()
  })

  it("closes a connection idle for --idle-timeout", async (test) => {
    const server = await start(test, ["--idle-timeout", "0.2"])
    const socket = await connect(server.port)
    const echo = received(socket)
    socket.write("ping")
    assert.strictEqual((await echo).toString(), "ping")
    const closed = await server.waitFor((log) => log.message === "Connection closed")
    assert.strictEqual(closed.annotations.reason, "idle-timeout")
    assert.strictEqual(closed.annotations.error, "TimeoutError")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("--workers 2: two processes share the port, and SIGTERM shuts them all down with 0", async (test) => {
    const server = run(test, ["--port", "0", "--log-format", "json", "--workers", "2"])
    const started = await server.waitFor((log) => log.message === "Started 2 workers on port " + log.annotations.port)
    const port = started.annotations.port as number
    const pids = String(started.annotations.pids).split(",").map(Number)
    assert.strictEqual(pids.length, 2)
    const serving = server.logs().filter((log) => log.message === `Serving on 127.0.0.1:${port}`)
    assert.deepStrictEqual(serving.map((log) => log.annotations.worker).toSorted(), [0, 1])
    for (const log of serving) assert.isTrue(log.annotations.reusePort)
    const echoes = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const socket = await connect(port)
      const echo = received(socket)
      socket.end(`hello ${i}`)
      return (await echo).toString()
    }))
    assert.deepStrictEqual(echoes, Array.from({ length: 8 }, (_, i) => `hello ${i}`))
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
    for (const pid of pids) assert.isFalse(alive(pid), `worker ${pid} still running`)
    const stopped = server.logs().filter((log) => log.message === "Stopped")
    assert.strictEqual(stopped.length, 2)
    assert.strictEqual(stopped.reduce((n, log) => n + (log.annotations.accepted as number), 0), 8)
  })

  it("--help lists the flags with their environment variables, exit 0", async (test) => {
    const server = run(test, ["--help"])
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
    for (const flag of ["--host", "--port", "--workers", "--idle-timeout", "ECHO_PORT", "--log-level"]) {
      assert.include(server.stdout(), flag)
    }
  })
})
