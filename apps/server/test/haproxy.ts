// A real HAProxy (Debian's haproxy package) in front of echo-server processes on loopback, for
// haproxy.test.ts. Where haproxy is missing the package is installed (debian.ts: apt-get, as root) when
// the tests load; where that cannot be done, `haproxyMissing` says why and the tests skip saying so.
//
// Its configuration is the one we ship, deploy/haproxy.cfg, with this test's addresses, ports, check
// interval and logs put in: each change must find what it replaces exactly once, so a reshaped
// deploy/haproxy.cfg fails here, saying what is missing, instead of testing something else. HAProxy runs
// in the foreground (-db), its config in a temp folder; both killed and removed when the test ends.
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { ensureInstalled } from "./debian.ts"
import { deadline, freePort, patience, type Server, start, type Test } from "./ServerProcess.ts"

/** Why haproxy cannot be used here, or `undefined` when it can. */
export const haproxyMissing: string | undefined = ensureInstalled({
  name: "haproxy",
  commands: [["haproxy", "-v"]],
  neededBy: "HAProxy tests"
})

/** The configuration we ship. */
export const deployConfig = fileURLToPath(new URL("../../../deploy/haproxy.cfg", import.meta.url))

/** `haproxy -c -f file`: its exit code and what it said. */
export const checkConfig = (file: string): { readonly status: number | null; readonly output: string } => {
  const result = spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8", timeout: 30_000 })
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() }
}

/** Replaces what `pattern` matches, which must be exactly `times` lines of the shipped file. */
const change = (
  text: string,
  pattern: RegExp,
  replacement: string | ((index: number) => string),
  times = 1
): string => {
  const found = text.match(new RegExp(pattern.source, "gm"))?.length ?? 0
  if (found !== times) {
    throw new Error(`deploy/haproxy.cfg: expected ${times} line(s) matching ${pattern}, found ${found}`)
  }
  let index = 0
  return text.replace(
    new RegExp(pattern.source, "gm"),
    () => typeof replacement === "string" ? replacement : replacement(index++)
  )
}

/** What the test configuration changes in the shipped one. */
export interface Settings {
  /** The frontend's port, on 127.0.0.1. */
  readonly port: number
  /** The echo servers' ports, on 127.0.0.1: as many as the shipped file names. */
  readonly servers: ReadonlyArray<number>
  /**
   * `fast` (the default): a check every 200 ms, a server out at the first failure and back at the first
   * success. `shipped`: the file's own (1 s, out after 2), for a window where a stopped server is still
   * in rotation.
   */
  readonly checks?: "fast" | "shipped" | undefined
}

/**
 * The shipped configuration made a test's: a frontend on 127.0.0.1:port, the test's servers, faster
 * checks (see `Settings`), logs on stdout; the
 * production-only lines (chroot, user, group, stats socket) out, and a ceiling of connections the file
 * limit of a test machine allows (HAProxy needs two descriptors a connection).
 */
export const testConfig = (shipped: string, settings: Settings): string => {
  let text = shipped
  text = change(text, /^\s*log \/dev\/log local0$/, "    log stdout format raw local0")
  text = change(text, /^(\s*)maxconn 20000$/, "    maxconn 1000")
  for (const line of [/^\s*chroot .*$\n/, /^\s*user haproxy$\n/, /^\s*group haproxy$\n/, /^\s*stats socket .*$\n/]) {
    text = change(text, line, "")
  }
  text = change(text, /^\s*bind :8888$/, `    bind 127.0.0.1:${settings.port}`)
  text = change(
    text,
    /inter 1s fall 2 rise 2/,
    settings.checks === "shipped" ? "inter 1s fall 2 rise 2" : "inter 200ms fall 1 rise 1"
  )
  return change(
    text,
    /^\s*server echo\d 127\.0\.0\.1:900\d$/,
    (i) => `    server echo${i + 1} 127.0.0.1:${settings.servers[i]}`,
    settings.servers.length
  )
}

export interface Balancer {
  /** The frontend's port on 127.0.0.1. */
  readonly port: number
  /** What HAProxy logged: a tcplog line per connection (stdout), server state changes (stderr). */
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves once stdout or stderr has a line matching. */
  readonly waitFor: (pattern: RegExp, ms?: number) => Promise<void>
}

/** Starts haproxy -db on the shipped configuration made a test's, in front of `servers`. */
export const startHaproxy = async (
  test: Test,
  servers: ReadonlyArray<number>,
  checks?: Settings["checks"]
): Promise<Balancer> => {
  const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "echo-haproxy-"))
  const file = Path.join(folder, "haproxy.cfg")
  const port = await freePort()
  Fs.writeFileSync(file, testConfig(Fs.readFileSync(deployConfig, "utf8"), { port, servers, checks }))
  const child = spawn("haproxy", ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const waiters = new Set<() => void>()
  child.stdout!.setEncoding("utf8").on("data", (data: string) => {
    stdout += data
    for (const waiter of waiters) waiter()
  })
  child.stderr!.setEncoding("utf8").on("data", (data: string) => {
    stderr += data
    for (const waiter of waiters) waiter()
  })
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  test.onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await deadline(exited, 10_000, "haproxy to exit").catch(() => {})
    Fs.rmSync(folder, { recursive: true, force: true })
  })
  const waitFor = (pattern: RegExp, ms = patience) => {
    let waiter: (() => void) | undefined
    return deadline(
      new Promise<void>((resolve, reject) => {
        waiter = () => {
          if (pattern.test(stdout) || pattern.test(stderr)) resolve()
          else if (child.exitCode !== null) reject(new Error(`haproxy exited with ${child.exitCode}: ${stderr}`))
        }
        waiters.add(waiter)
        child.on("exit", waiter)
        waiter()
      }),
      ms,
      `haproxy to log ${pattern}`
    ).finally(() => waiter !== undefined && waiters.delete(waiter))
  }
  return { port, stdout: () => stdout, stderr: () => stderr, waitFor }
}

/** A health check's connection (logged at debug): HAProxy's LOCAL header makes the balancer its peer and its proxy. */
export const isHealthCheck = (annotations: Record<string, unknown>): boolean =>
  annotations.proxy !== undefined && annotations.peer === annotations.proxy

export interface Cluster {
  readonly balancer: Balancer
  /** The echo servers, `--proxy-protocol`, in the order of the backend's `server echo1..3` lines. */
  readonly servers: ReadonlyArray<Server>
}

/**
 * Three echo servers (each its own port 0, JSON logs, then `args`: the systemd unit's, with
 * `--proxy-protocol`; and debug logs) behind HAProxy; resolves once every server has passed a health
 * check (HAProxy listens then).
 */
export const startCluster = async (
  test: Test,
  args: ReadonlyArray<string>,
  checks?: Settings["checks"]
): Promise<Cluster> => {
  // at debug level, where the servers log a health check (the unit's own level, info, leaves them out)
  const servers = await Promise.all([0, 1, 2].map(() => start(test, [...args, "--log-level", "debug"])))
  const balancer = await startHaproxy(test, servers.map((server) => server.port), checks)
  await Promise.all(
    servers.map((server) =>
      server.waitFor((log) => log.message === "Connection closed" && isHealthCheck(log.annotations))
    )
  )
  return { balancer, servers }
}
