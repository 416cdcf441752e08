/**
 * Child processes for the bench: every one started here is tracked and killed when
 * the bench exits, also on failure or Ctrl-C.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"

export interface Proc {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>
  /** Calls `f` on every line, on both stdout and stderr, including those already seen. */
  readonly onLine: (f: (line: string, stream: "stdout" | "stderr") => void) => void
  /** The last lines of output, for error messages. */
  readonly tail: () => string
  readonly stdout: () => string
}

const live = new Set<ChildProcess>()

/** Kills every process still running (SIGKILL): the last resort on exit. */
export const killAll = (): void => {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  live.clear()
}

let installed = false
const installCleanup = () => {
  if (installed) return
  installed = true
  process.on("exit", killAll)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      killAll()
      process.exit(130)
    })
  }
}

/**
 * Runs `command` through bash with the soft file-descriptor limit raised to the hard
 * limit, so that a server (or the idle-connection holder) can keep 10,000 sockets open.
 */
export const withRaisedFdLimit = (
  command: string,
  args: ReadonlyArray<string>
): [string, Array<string>] => [
  "bash",
  ["-c", "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null || true; exec \"$@\"", "bash", command, ...args]
]

/** The cores to pin servers and load generators to, or why they run unpinned. */
export type Cores = { readonly server: string; readonly client: string } | { readonly note: string }

/**
 * Servers on core 0, load generators on core 1, with `taskset` (util-linux), so that neither takes
 * the other's core; unpinned, with a note saying why, where `taskset` is missing or fails, or with
 * fewer than two cores.
 */
export const findCores = (cores: number): Cores => {
  if (cores < 2) return { note: `not pinned: ${cores} core(s), the server and the load generator share it` }
  const probe = spawnSync("taskset", ["-c", "1", "true"], { encoding: "utf8", timeout: 10_000 })
  if (probe.error !== undefined) return { note: "not pinned: `taskset` (util-linux) is not installed" }
  if (probe.status !== 0) return { note: `not pinned: \`taskset -c 1\` failed: ${probe.stderr.trim()}` }
  return { server: "0", client: "1" }
}

/** The command run on `cores` (a `taskset -c` list), or as it is when `cores` is undefined. */
export const pinned = (
  cores: string | undefined,
  [command, args]: readonly [string, ReadonlyArray<string>]
): [string, Array<string>] => cores === undefined ? [command, [...args]] : ["taskset", ["-c", cores, command, ...args]]

/**
 * Our environment without `ECHO_*`: the apps read their flags from those too, and the
 * bench passes every flag it means explicitly.
 */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("ECHO_")))

export const start = (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly stdin?: "pipe" | "ignore"; readonly env?: NodeJS.ProcessEnv } = {}
): Proc => {
  installCleanup()
  const child = spawn(command, args, {
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
    env: options.env ?? cleanEnv()
  })
  live.add(child)
  const lines: Array<[string, "stdout" | "stderr"]> = []
  const listeners: Array<(line: string, stream: "stdout" | "stderr") => void> = []
  let stdout = ""
  const TAIL = 40
  const seen: Array<string> = []
  const reader = (stream: "stdout" | "stderr") => {
    let partial = ""
    return (data: Buffer) => {
      if (stream === "stdout" && stdout.length < 1_000_000) stdout += data.toString("utf8")
      partial += data.toString("utf8")
      const parts = partial.split("\n")
      partial = parts.pop() ?? ""
      for (const line of parts) {
        if (lines.length < 1000) lines.push([line, stream])
        seen.push(line)
        if (seen.length > TAIL) seen.shift()
        for (const f of listeners) f(line, stream)
      }
    }
  }
  child.stdout?.on("data", reader("stdout"))
  child.stderr?.on("data", reader("stderr"))
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(child)
      resolve(code ?? signal ?? "unknown")
    })
    child.on("error", (error) => {
      live.delete(child)
      seen.push(String(error))
      resolve(`spawn error: ${error.message}`)
    })
  })
  return {
    name,
    child,
    pid: child.pid ?? -1,
    exited,
    onLine: (f) => {
      for (const [line, stream] of lines) f(line, stream)
      listeners.push(f)
    },
    tail: () => seen.join("\n"),
    stdout: () => stdout
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits for the first line matching `pattern`; fails if the process exits first or time runs out. */
export const waitForLine = (proc: Proc, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> =>
  new Promise((resolve, reject) => {
    let done = false
    const timer = setTimeout(() => {
      if (done) return
      done = true
      reject(new Error(`${proc.name}: no line matching ${pattern} within ${timeoutMs} ms\n${proc.tail()}`))
    }, timeoutMs)
    proc.onLine((line) => {
      const match = line.match(pattern)
      if (match !== null && !done) {
        done = true
        clearTimeout(timer)
        resolve(match)
      }
    })
    void proc.exited.then((code) => {
      if (done) return
      done = true
      clearTimeout(timer)
      reject(new Error(`${proc.name} exited (${code}) before printing ${pattern}\n${proc.tail()}`))
    })
  })

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export const stop = async (proc: Proc, graceMs = 5000): Promise<number | string> => {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited
  proc.child.kill("SIGTERM")
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), graceMs)
  const code = await proc.exited
  clearTimeout(timer)
  return code
}

/** Runs a command to its end; fails after `timeoutMs` (killing it). */
export const run = async (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  timeoutMs: number
): Promise<{ readonly code: number | string; readonly stdout: string; readonly tail: string }> => {
  const proc = start(name, command, args)
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), timeoutMs)
  const code = await proc.exited
  clearTimeout(timer)
  return { code, stdout: proc.stdout(), tail: proc.tail() }
}

const CLOCK_TICKS = 100 // USER_HZ: what /proc reports CPU times in, 100 on Linux

/** CPU time (user + system) a process has used so far, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // the command name (field 2) may hold spaces: count the fields after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** The resident set size of a process, in KiB (Linux: VmRSS in /proc/<pid>/status). */
export const rssKiB = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB$/m)
  if (match === null) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1])
}
