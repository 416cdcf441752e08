/**
 * HAProxy in front of a peer: the balancer of the `haproxy-*` servers. Debian's `haproxy` package (2.6 here);
 * where it is missing the bench installs it as the tests do (apps/server/test/debian.ts: apt-get, as root), else
 * those servers are skipped and the results say why. Each one runs in the foreground (`-db`) with a config written
 * to a temporary folder removed when the bench exits, under `setpriv --pdeathsig KILL` where util-linux has
 * it: HAProxy dies with the bench, even one killed by SIGKILL that could not stop its children.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as DebianPackages from "../../apps/server/test/debian.ts"
import type { Proc } from "./processes.ts"
import { sleep } from "./processes.ts"

// the tests' Debian installer (loaded by URL: a relative import across TypeScript projects cannot be
// rewritten for the build)
const Debian = await import(
  new URL("../../apps/server/test/debian.ts", import.meta.url).href
) as typeof DebianPackages

const candidates = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]

const onPath = (): string | undefined => {
  const probe = spawnSync("haproxy", ["-v"], { encoding: "utf8", timeout: 10_000 })
  return probe.status === 0 ? "haproxy" : undefined
}

const find = (): string | undefined => candidates.find((file) => existsSync(file)) ?? onPath()

/** Installs Debian's haproxy where it is missing and this machine allows it, as the tests do; or why not. */
const install = (): string | { readonly skip: string } => {
  const why = Debian.ensureInstalled({ name: "haproxy", commands: [["haproxy", "-v"]], neededBy: "bench" })
  return find() ?? { skip: why ?? "haproxy is not installed" }
}

let binary: { readonly path: string; readonly version: string } | { readonly skip: string } | undefined

/** HAProxy's executable and version, installed on first use where missing and allowed, or why not. */
export const haproxy = (): { readonly path: string; readonly version: string } | { readonly skip: string } => {
  if (binary !== undefined) return binary
  const found = find() ?? install()
  if (typeof found !== "string") return (binary = found)
  const probe = spawnSync(found, ["-v"], { encoding: "utf8", timeout: 10_000 })
  const version = probe.stdout.match(/version (\S+)/)?.[1] ?? "?"
  return (binary = { path: found, version })
}

/** HAProxy's executable and version where it is installed now (never installs it). */
export const haproxyFound = (): { readonly path: string; readonly version: string } | undefined => {
  if (binary !== undefined) return "skip" in binary ? undefined : binary
  return find() === undefined ? undefined : haproxy() as { readonly path: string; readonly version: string }
}

let folder: string | undefined

const configFolder = (): string => {
  if (folder !== undefined) return folder
  const made = mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-bench-haproxy-"))
  process.on("exit", () => rmSync(made, { recursive: true, force: true }))
  return (folder = made)
}

/**
 * The config both `haproxy-*` servers share, but for `send-proxy-v2`: mode tcp, one thread (it shares the
 * servers' core with its backend), room for far more connections than the cells open (each takes two
 * descriptors, within the bench's raised limit), timeouts no cell reaches, no health check and no logs
 * (neither is on the path measured).
 */
export const config = (options: {
  readonly port: number
  readonly backendPort: number
  readonly sendProxyV2: boolean
}): string =>
  [
    "global",
    "  nbthread 1",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 1h",
    "  timeout server 1h",
    "frontend bench",
    `  bind 127.0.0.1:${options.port}`,
    "  default_backend peer",
    "backend peer",
    `  server peer 127.0.0.1:${options.backendPort}${options.sendProxyV2 ? " send-proxy-v2" : ""}`,
    ""
  ].join("\n")

/** A port free now on 127.0.0.1, for HAProxy's `bind` (it cannot say which port 0 got). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.on("error", reject)
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const hasSetprivPdeathsig = (() => {
  let known: boolean | undefined
  return () => (known ??= spawnSync("setpriv", ["--pdeathsig", "KILL", "true"], { timeout: 10_000 }).status === 0)
})()

/** The command that runs HAProxy with `config` in the foreground, dying with the bench where it can. */
export const command = (
  executable: string,
  name: string,
  text: string
): [string, Array<string>] => {
  const file = Path.join(configFolder(), `${name}.cfg`)
  writeFileSync(file, text)
  const args = ["-db", "-f", file]
  return hasSetprivPdeathsig() ? ["setpriv", ["--pdeathsig", "KILL", executable, ...args]] : [executable, args]
}

/** Is a process of ours listening on 127.0.0.1:`port`? (`/proc/net/tcp`: local address, state 0A.) */
const listening = (port: number): boolean => {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .some((line) => {
      const fields = line.trim().split(/\s+/)
      return fields[1] === local && fields[3] === "0A"
    })
}

/** HAProxy's own words on why it stopped: its `[ALERT]` lines (the prefix, pid and function dropped). */
const alerts = (proc: Proc): string => {
  const lines = proc.tail().split("\n").filter((line) => line.includes("[ALERT]"))
  return lines.map((line) => `: ${line.replace(/^.*\[ALERT\]\s*\(\d+\)\s*:\s*(\[[^\]]*\]\s*)?/, "")}`).join("")
}

/**
 * Waits until HAProxy listens on `port`, read from the kernel's socket table rather than by connecting
 * (a connection would reach the backend, and with `send-proxy-v2` end before a request); fails if it
 * exits first or time runs out.
 */
export const waitListening = async (proc: Proc, port: number, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  let exited: number | string | undefined
  void proc.exited.then((code) => (exited = code))
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${proc.name} exited (${exited}) before listening${alerts(proc)}`)
    if (listening(port)) return
    await sleep(50)
  }
  throw new Error(`${proc.name}: not listening on 127.0.0.1:${port} within ${timeoutMs} ms\n${proc.tail()}`)
}
