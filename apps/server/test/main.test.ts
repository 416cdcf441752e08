// End to end: main.ts as a process on loopback (127.0.0.1, port 0 only),
// talked to with node:net. Every spawned process is killed when its test ends.
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { once } from "node:events"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

// Generous bounds: a process start costs about a second, much more on a loaded machine.
const patience = 40_000

type Log = { readonly message: string; readonly level: string; readonly annotations: Record<string, unknown> }

interface Server {
  readonly child: ChildProcess
  readonly port: number
  /** The stderr lines so far. */
  readonly lines: () => ReadonlyArray<string>
  /** The lines parsed as JSON (each must parse). */
  readonly logs: () => ReadonlyArray<Log>
  /** Resolves once a log line matches. */
  readonly waitFor: (predicate: (log: Log) => boolean) => Promise<Log>
  readonly exit: Promise<number | null>
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** What a test started, killed when it finishes (tests run concurrently: each cleans up its own). */
interface Test {
  readonly onTestFinished: (fn: () => void) => void
}

const cleanup = (test: Test, child: ChildProcess, workerPids: () => ReadonlyArray<number>) =>
  test.onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    for (const pid of workerPids()) if (alive(pid)) process.kill(pid, "SIGKILL")
  })

const deadline = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref())
  ])

const parse = (line: string): Log | undefined => {
  try {
    return JSON.parse(line) as Log
  } catch {
    return undefined
  }
}

const run = (test: Test, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [main, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  child.stdout!.setEncoding("utf8").on("data", (data: string) => (stdout += data))
  child.stderr!.setEncoding("utf8").on("data", (data: string) => {
    stderr += data
    for (const listener of listeners) listener()
  })
  cleanup(test, child, () =>
    lines().flatMap((line) => {
      const pid = parse(line)?.annotations?.pid
      return typeof pid === "number" ? [pid] : []
    }))
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const lines = () => stderr.split("\n").filter((line) => line.length > 0)
  const logs = () => lines().map((line) => JSON.parse(line) as Log)
  const waitFor = (predicate: (log: Log) => boolean) =>
    deadline(
      new Promise<Log>((resolve) => {
        const check = () => {
          const found = lines().flatMap((line) => parse(line) ?? []).find(predicate)
          if (found !== undefined) {
            listeners.delete(check)
            resolve(found)
          }
        }
        listeners.add(check)
        check()
      }),
      patience,
      "a log line"
    )
  return { child, exit, lines, logs, waitFor, stdout: () => stdout }
}

/** Starts a server on a free port and waits until it serves. */
const start = async (test: Test, args: ReadonlyArray<string> = []): Promise<Server> => {
  const server = run(test, ["--port", "0", "--log-format", "json", ...args])
  const serving = await server.waitFor((log) => log.message.startsWith("Serving on "))
  return { ...server, port: serving.annotations.port as number }
}

const connect = async (port: number): Promise<Net.Socket> => {
  const socket = Net.connect({ port, host: "127.0.0.1" })
  await once(socket, "connect")
  return socket
}

/** Collects everything the socket receives until the peer ends it. */
const received = (socket: Net.Socket): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  socket.on("data", (chunk: Buffer) => chunks.push(chunk))
  return deadline(
    new Promise((resolve, reject) => {
      socket.on("end", () => resolve(Buffer.concat(chunks)))
      socket.on("error", reject)
    }),
    patience,
    "the end of the echo"
  )
}

const payload = (length: number, seed: number): Buffer => {
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 0xff
  return out
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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
    [[], { ECHO_LOG_LEVEL: "loud" }, "ECHO_LOG_LEVEL"]
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
