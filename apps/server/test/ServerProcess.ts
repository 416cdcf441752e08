// main.ts as a process on loopback (127.0.0.1, port 0 only), talked to with
// node:net: what the end-to-end tests (main.test.ts) and the reliability suite
// (reliability/) share. Every process started here is killed when the test (or
// the hook) that started it finishes.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { once } from "node:events"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"

/** The server's entry point. */
export const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** Generous bounds: a process start costs about a second, much more on a loaded machine. */
export const patience = 40_000

/** One JSON log line. */
export type Log = { readonly message: string; readonly level: string; readonly annotations: Record<string, unknown> }

/** What a test started, killed when it finishes (tests run concurrently: each cleans up its own). */
export interface Test {
  readonly onTestFinished: (fn: () => void) => void
}

export interface Process {
  readonly child: ChildProcess
  /** The stderr lines so far. */
  readonly lines: () => ReadonlyArray<string>
  /** The lines parsed as JSON (throws if one is not one JSON object). */
  readonly logs: () => ReadonlyArray<Log>
  /** Resolves once a log line matches (within `patience`, or `ms`). */
  readonly waitFor: (predicate: (log: Log) => boolean, ms?: number) => Promise<Log>
  readonly stdout: () => string
  readonly exit: Promise<number | null>
}

export interface Server extends Process {
  readonly port: number
}

/** How the process is started, beyond its arguments and environment. */
export interface RunOptions {
  /** The soft limit of open files for the process (`ulimit -n`, through bash). */
  readonly fileLimit?: number | undefined
  /**
   * Runs it without the capability to bind ports below 1024 (`setpriv`), as the same
   * user: a root that became nobody could not read a checkout in a private folder.
   */
  readonly withoutBindCapability?: boolean | undefined
  /** Another script than the server's main.ts (the client's, say). */
  readonly script?: string | undefined
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export const deadline = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref())
  ])

export const parse = (line: string): Log | undefined => {
  try {
    return JSON.parse(line) as Log
  } catch {
    return undefined
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const kill = (child: ChildProcess, workerPids: () => ReadonlyArray<number>) => () => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  for (const pid of workerPids()) if (alive(pid)) process.kill(pid, "SIGKILL")
}

const command = (script: string, args: ReadonlyArray<string>, options: RunOptions) => {
  const node = [process.execPath, script, ...args]
  const wrapped = options.withoutBindCapability === true
    ? ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-net_bind_service", ...node]
    : node
  if (options.fileLimit === undefined) return wrapped
  // exec: the pid stays the program's own
  return ["bash", "-c", `ulimit -n ${options.fileLimit} && exec "$@"`, "bash", ...wrapped]
}

/** Starts main.ts (or `options.script`) with these arguments; its stderr is kept line by line. */
export const run = (
  test: Test,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: RunOptions = {}
): Process => {
  const [file, ...rest] = command(options.script ?? main, args, options)
  const child = spawn(file!, rest, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let stdout = ""
  let partial = ""
  const lines: Array<string> = []
  const parsed: Array<Log | undefined> = []
  const listeners = new Set<() => void>()
  child.stdout!.setEncoding("utf8").on("data", (data: string) => (stdout += data))
  child.stderr!.setEncoding("utf8").on("data", (data: string) => {
    const parts = (partial + data).split("\n")
    partial = parts.pop()!
    for (const line of parts) {
      if (line.length === 0) continue
      lines.push(line)
      parsed.push(parse(line))
    }
    for (const listener of listeners) listener()
  })
  const workerPids = () =>
    parsed.flatMap((log) => {
      const pid = log?.annotations?.pid
      return typeof pid === "number" ? [pid] : []
    })
  test.onTestFinished(kill(child, workerPids))
  // 'exit' can come before the last of stderr has been read: wait for its end too (bounded, as a
  // worker may still hold the pipe), so that the logs are complete when the exit is reported
  const exit = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      if (child.stderr!.readableEnded) return resolve(code)
      const timer = setTimeout(() => resolve(code), 2_000)
      child.stderr!.once("end", () => {
        clearTimeout(timer)
        resolve(code)
      })
    })
  )
  const all = () => (partial.length > 0 ? [...lines, partial] : lines)
  // only complete lines are log records: the last one may still be arriving
  const logs = () => lines.map((line, i) => parsed[i] ?? (JSON.parse(line) as Log))
  const waitFor = (predicate: (log: Log) => boolean, ms = patience) => {
    const listener: { current?: () => void } = {}
    return deadline(
      new Promise<Log>((resolve) => {
        let checked = 0
        const check = () => {
          for (; checked < parsed.length; checked++) {
            const log = parsed[checked]
            if (log !== undefined && predicate(log)) {
              listeners.delete(check)
              return resolve(log)
            }
          }
        }
        listener.current = check
        listeners.add(check)
        check()
      }),
      ms,
      "a log line"
    ).finally(() => {
      if (listener.current !== undefined) listeners.delete(listener.current)
    })
  }
  return { child, exit, lines: all, logs, waitFor, stdout: () => stdout }
}

/** Starts a server on a free port with JSON logs and waits until it serves. */
export const start = async (
  test: Test,
  args: ReadonlyArray<string> = [],
  env: Record<string, string> = {},
  options: RunOptions = {}
): Promise<Server> => {
  const server = run(test, ["--port", "0", "--log-format", "json", ...args], env, options)
  const serving = await server.waitFor((log) => log.message.startsWith("Serving on "))
  return { ...server, port: serving.annotations.port as number }
}

/** A port free a moment ago, for a program that cannot be told to pick one and say which. */
export const freePort = async (): Promise<number> => {
  const server = Net.createServer().listen(0, "127.0.0.1")
  await once(server, "listening")
  const port = (server.address() as Net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export const connect = async (port: number): Promise<Net.Socket> => {
  const socket = Net.connect({ port, host: "127.0.0.1" })
  await once(socket, "connect")
  return socket
}

/** Collects everything the socket receives until the peer ends it. */
export const received = (socket: Net.Socket, ms = patience): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  socket.on("data", (chunk: Buffer) => chunks.push(chunk))
  return deadline(
    new Promise((resolve, reject) => {
      socket.on("end", () => resolve(Buffer.concat(chunks)))
      socket.on("error", reject)
    }),
    ms,
    "the end of the echo"
  )
}

export const payload = (length: number, seed: number): Buffer => {
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 0xff
  return out
}
