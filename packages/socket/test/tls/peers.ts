// Peers we did not write, for the apps' interop tests: the `openssl` command line and Debian's Python
// (`/usr/bin/python3`, asyncio and ssl). Each is looked for once; a test file skips, saying why, where
// one is missing. Every process started here is killed when the test that started it ends. The apps load
// it by URL (apps/*/test/interop.ts), as they load certFiles.ts.
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs"

/** What a test started, killed when it finishes. */
export interface Test {
  readonly onTestFinished: (fn: () => void) => void
}

/** How long a peer's output is waited for, unless the caller says otherwise. */
const defaultPatience = 30_000

const deadline = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref())
  ])

/** Why `openssl` cannot be used here, or `undefined` when it can. */
export const opensslMissing: string | undefined = (() => {
  const probe = spawnSync("openssl", ["version"], { encoding: "utf8", timeout: 10_000 })
  return probe.status === 0 ? undefined : "the openssl command line is not installed (apt-get install openssl)"
})()

/** Debian's Python, the seed's interpreter. */
export const python = "/usr/bin/python3"

/** Why Python's asyncio with ssl cannot be used here, or `undefined` when it can. */
export const pythonMissing: string | undefined = (() => {
  if (!Fs.existsSync(python)) return `${python} is not installed (apt-get install python3)`
  const probe = spawnSync(python, ["-c", "import asyncio, ssl"], { encoding: "utf8", timeout: 10_000 })
  return probe.status === 0 ? undefined : `${python} cannot import asyncio and ssl: ${probe.stderr.trim()}`
})()

export interface Peer {
  readonly child: ChildProcess
  readonly stdout: () => Buffer
  readonly stderr: () => string
  /** Resolves once stdout holds at least `bytes` bytes (within the patience given to `startPeer`). */
  readonly stdoutHolds: (bytes: number) => Promise<Buffer>
  /** Resolves once stdout matches (within that patience): a peer announcing its port. */
  readonly stdoutMatches: (pattern: RegExp) => Promise<RegExpExecArray>
  readonly exit: Promise<number | null>
}

/** Starts a peer program; it is killed when the test ends. Its output is waited for `patience` ms at most. */
export const startPeer = (
  test: Test,
  command: string,
  args: ReadonlyArray<string>,
  patience: number = defaultPatience
): Peer => {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] })
  const out: Array<Buffer> = []
  let length = 0
  let err = ""
  const waiters = new Set<() => void>()
  child.stdout!.on("data", (data: Buffer) => {
    out.push(data)
    length += data.length
    for (const waiter of waiters) waiter()
  })
  child.stderr!.setEncoding("utf8").on("data", (data: string) => (err += data))
  child.stdin!.on("error", () => {})
  test.onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  })
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const stdout = () => Buffer.concat(out)
  const stdoutHolds = (bytes: number) =>
    deadline(
      new Promise<Buffer>((resolve, reject) => {
        const check = () => {
          if (length < bytes) return
          waiters.delete(check)
          resolve(stdout())
        }
        waiters.add(check)
        check()
        void exit.then(() => reject(new Error(`${command} exited with ${length} of ${bytes} bytes: ${err}`)))
      }),
      patience,
      `${bytes} bytes from ${command}`
    )
  const stdoutMatches = (pattern: RegExp) =>
    deadline(
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stdout().toString("latin1"))
          if (match === null) return
          waiters.delete(check)
          resolve(match)
        }
        waiters.add(check)
        check()
        void exit.then(() => reject(new Error(`${command} exited before ${pattern}: ${err}`)))
      }),
      patience,
      `${pattern} from ${command}`
    )
  return { child, stdout, stderr: () => err, stdoutHolds, stdoutMatches, exit }
}
