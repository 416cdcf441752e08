// Real servers on 127.0.0.1 (port 0) and the client run as a process, for the end-to-end tests.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { once } from "node:events"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { fileURLToPath } from "node:url"

export const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

export type Behaviour = "echo" | "reset" | "upper" | "silent"

export interface TestServer {
  readonly port: number
  /** Bytes received from clients so far. */
  readonly received: () => number
  /** Connections accepted so far. */
  readonly accepted: () => number
  readonly close: () => Promise<void>
}

/** An echo server (or a misbehaving one) on node:net, counting the bytes it gets. */
export const server = async (behaviour: Behaviour = "echo"): Promise<TestServer> => {
  let received = 0
  let accepted = 0
  const sockets = new Set<Net.Socket>()
  const srv = Net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted++
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    socket.on("data", (data) => {
      received += data.length
      switch (behaviour) {
        case "echo":
          if (!socket.write(data)) {
            socket.pause()
            socket.once("drain", () => socket.resume())
          }
          return
        case "upper":
          socket.write(Buffer.from(data.toString("latin1").toUpperCase(), "latin1"))
          return
        case "reset":
          socket.resetAndDestroy()
          return
        case "silent":
          return
      }
    })
    socket.on("end", () => socket.end())
  })
  srv.listen(0, "127.0.0.1")
  await once(srv, "listening")
  return {
    port: (srv.address() as Net.AddressInfo).port,
    received: () => received,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => srv.close(() => resolve()))
    }
  }
}

/** A port nothing listens on: bound, then closed. */
export const freePort = async (): Promise<number> => {
  const srv = Net.createServer()
  srv.listen(0, "127.0.0.1")
  await once(srv, "listening")
  const port = (srv.address() as Net.AddressInfo).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

/**
 * A port where connects hang: a listener with a backlog of 1 in a stopped
 * process, its accept queue filled, so that the kernel drops further SYNs.
 */
export const blackhole = async (): Promise<{ readonly port: number; readonly close: () => void }> => {
  const child = spawn(process.execPath, [
    "-e",
    `const s = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
      console.log(s.address().port); process.kill(process.pid, "SIGSTOP") })`
  ], { stdio: ["ignore", "pipe", "ignore"] })
  const [data] = await once(child.stdout!, "data")
  const port = Number(String(data).trim())
  const fillers: Array<Net.Socket> = []
  for (let i = 0; i < 4; i++) {
    const socket = Net.createConnection({ port, host: "127.0.0.1" })
    socket.on("error", () => {})
    fillers.push(socket)
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  return {
    port,
    close: () => {
      for (const socket of fillers) socket.destroy()
      child.kill("SIGKILL")
    }
  }
}

export interface Run {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

export interface Client {
  readonly child: ChildProcess
  readonly stdout: () => Buffer
  readonly stderr: () => string
  /** Resolves when stderr (or stdout) contains the text. */
  readonly waitFor: (text: string, stream?: "stderr" | "stdout") => Promise<void>
  readonly done: Promise<Run>
}

/** Runs main.ts with these arguments; `input` is written to its stdin and ended (unless `keepStdinOpen`). */
export const client = (
  args: ReadonlyArray<string>,
  options: {
    readonly input?: Buffer | undefined
    readonly keepStdinOpen?: boolean | undefined
    /** A file as standard input instead of a pipe: read as fast as the client can, as `< file` gives it. */
    readonly stdinFile?: string | undefined
    readonly env?: Record<string, string> | undefined
  } = {}
): Client => {
  const stdinFile = options.stdinFile === undefined ? undefined : Fs.openSync(options.stdinFile, "r")
  const child = spawn(process.execPath, [main, ...args], {
    stdio: [stdinFile ?? "pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env }
  })
  if (stdinFile !== undefined) Fs.closeSync(stdinFile)
  const out: Array<Buffer> = []
  let err = ""
  const waiters: Array<() => void> = []
  const check = () => waiters.forEach((w) => w())
  child.stdout!.on("data", (d: Buffer) => {
    out.push(d)
    check()
  })
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d
    check()
  })
  child.stdin?.on("error", () => {})
  if (options.input !== undefined) child.stdin!.write(options.input)
  if (!options.keepStdinOpen) child.stdin?.end()
  const stdout = () => Buffer.concat(out)
  // bounded: never outlive the test
  const timer = setTimeout(() => child.kill("SIGKILL"), 25_000)
  const done = new Promise<Run>((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: stdout(), stderr: err })
    })
  })
  return {
    child,
    stdout,
    stderr: () => err,
    waitFor: (text, stream = "stderr") =>
      new Promise<void>((resolve, reject) => {
        const test = () => {
          if ((stream === "stderr" ? err : stdout().toString("latin1")).includes(text)) resolve()
        }
        waiters.push(test)
        test()
        void done.then(() => reject(new Error(`exited before "${text}" on ${stream}:\n${err}`)))
      }),
    done
  }
}

/** Runs the client to its end; it is killed if the test ends first. */
export const run = (args: ReadonlyArray<string>, options?: Parameters<typeof client>[1]): Promise<Run> =>
  client(args, options).done

export const lines = (text: string): Array<string> => text.split("\n").filter((line) => line.length > 0)

/** Kills what is still running, for `finally`. */
export const kill = (c: Client): void => {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL")
}

/** A TLS echo server on node:tls (with a client certificate asked for when `ca` is given), counting bytes. */
export const tlsServer = async (options: Tls.TlsOptions): Promise<TestServer> => {
  let received = 0
  let accepted = 0
  const sockets = new Set<Tls.TLSSocket>()
  const srv = Tls.createServer({ allowHalfOpen: true, ...options }, (socket) => {
    accepted++
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    socket.on("data", (data: Buffer) => {
      received += data.length
      if (!socket.write(data)) {
        socket.pause()
        socket.once("drain", () => socket.resume())
      }
    })
    socket.on("end", () => socket.end())
  })
  // every TCP connection, handshaken or not: one whose client gave up on the handshake stays half-open
  const connections = new Set<Net.Socket>()
  srv.on("connection", (socket: Net.Socket) => {
    connections.add(socket)
    socket.on("close", () => connections.delete(socket))
  })
  srv.on("tlsClientError", () => {})
  srv.listen(0, "127.0.0.1")
  await once(srv, "listening")
  return {
    port: (srv.address() as Net.AddressInfo).port,
    received: () => received,
    accepted: () => accepted,
    close: async () => {
      for (const socket of [...sockets, ...connections]) socket.destroy()
      await new Promise<void>((resolve) => srv.close(() => resolve()))
    }
  }
}

/** A TCP server that accepts and then does `what`: say nothing, or close at once. */
export const rudeServer = async (what: "silent" | "close"): Promise<TestServer> => {
  let accepted = 0
  const sockets = new Set<Net.Socket>()
  const srv = Net.createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on("error", () => {})
    socket.on("close", () => sockets.delete(socket))
    if (what === "close") socket.end()
  })
  srv.listen(0, "127.0.0.1")
  await once(srv, "listening")
  return {
    port: (srv.address() as Net.AddressInfo).port,
    received: () => 0,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => srv.close(() => resolve()))
    }
  }
}
