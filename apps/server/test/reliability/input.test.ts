// Bad input to the programs: every flag of the server with a bad value, bad
// environment values, addresses it cannot bind, and the client's flags and
// targets. Each must end in one line naming the problem and the documented
// exit code (packages/runtime/src/ExitCode.ts), never a stack trace.
import { ExitCode } from "@effect-tcp/runtime"
import { once } from "node:events"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import type { RunOptions, Test } from "../ServerProcess.ts"
import { connect, deadline, run, sleep, start } from "../ServerProcess.ts"
import { flushAfterAll, record } from "./report.ts"
import type { Check } from "./report.ts"
import { full } from "./scale.ts"

const area = "bad input"
const client = fileURLToPath(new URL("../../../client/src/main.ts", import.meta.url))
const { codes } = ExitCode

interface Case {
  readonly group: string
  readonly program: "server" | "client"
  readonly args: ReadonlyArray<string>
  readonly env?: Record<string, string>
  readonly code: number
  /** What the one line must name (`a|b`: either). */
  readonly names: ReadonlyArray<string>
  /** Also in the quick run (the others only with RELIABILITY=full). */
  readonly quick?: boolean
}

const badFlags = "server: a bad value for each flag"
const badEnv = "server: bad environment values"
const clientFlags = "client: bad flag values"

const cases: ReadonlyArray<Case> = [
  ...(
    [
      [["--port", "70000"], "--port"],
      [["--port", "abc"], "--port"],
      [["--port", "1.5"], "--port"],
      [["--host", ""], "--host"],
      [["--backlog", "0"], "--backlog"],
      [["--reuse-port=maybe"], "--reuse-port"],
      [["--no-delay=maybe"], "--no-delay"],
      [["--recv-buffer-size", "0"], "--recv-buffer-size"],
      [["--send-buffer-size", "x"], "--send-buffer-size"],
      [["--read-limit", "0"], "--read-limit"],
      [["--max-connections", "-1"], "--max-connections"],
      [["--idle-timeout", "-1"], "--idle-timeout"],
      [["--idle-timeout", "abc"], "--idle-timeout"],
      [["--shutdown-timeout", "-5"], "--shutdown-timeout"],
      [["--workers", "0"], "--workers"],
      [["--stats-interval", "-1"], "--stats-interval"],
      [["--log-format", "xml"], "--log-format"],
      [["--log-level", "loud"], "--log-level"],
      [["--metrics-port", "70000"], "--metrics-port"],
      [["--metrics-port", "0", "--metrics-host", ""], "--metrics-host"],
      [["--metrics-host", "::1"], "--metrics-host"],
      [["--bogus"], "--bogus"]
    ] as ReadonlyArray<readonly [ReadonlyArray<string>, string, boolean?]>
  ).map(([args, name, quick]): Case => ({
    group: badFlags,
    program: "server",
    args,
    code: codes.usage,
    names: [name],
    quick: quick === true
  })),
  {
    group: badEnv,
    program: "server",
    args: [],
    env: { ECHO_PORT: "abc" },
    code: codes.usage,
    names: ["ECHO_PORT|--port"]
  },
  {
    group: badEnv,
    program: "server",
    args: [],
    env: { ECHO_IDLE_TIMEOUT: "-1" },
    code: codes.usage,
    names: ["ECHO_IDLE_TIMEOUT|--idle-timeout"]
  },
  {
    group: badEnv,
    program: "server",
    args: [],
    env: { ECHO_METRICS_PORT: "abc" },
    code: codes.usage,
    names: ["ECHO_METRICS_PORT|--metrics-port"]
  },
  {
    group: badEnv,
    program: "server",
    args: [],
    env: { ECHO_LOG_FORMAT: "xml" },
    code: codes.usage,
    names: ["ECHO_LOG_FORMAT|--log-format"]
  },
  ...(
    [
      [["--port", "70000"], "--port", true],
      [["--connect-timeout", "abc"], "--connect-timeout"],
      [["--count", "0"], "--count"],
      [["--interval", "-1"], "--interval"],
      [["--read-limit", "0"], "--read-limit"],
      [["--retries", "-1"], "--retries"],
      [["--log-format", "xml"], "--log-format"],
      [["bench", "--connections", "0"], "--connections"],
      [["bench", "--size", "0"], "--size"],
      [["bench", "--duration", "abc"], "--duration"],
      [["bench", "--workers", "0"], "--workers"]
    ] as ReadonlyArray<readonly [ReadonlyArray<string>, string, boolean?]>
  ).map(([args, name, quick]): Case => ({
    group: clientFlags,
    program: "client",
    args,
    code: codes.usage,
    names: [name],
    quick: quick === true
  }))
]

interface Outcome {
  readonly group: string
  readonly what: string
  readonly code: number | null
  readonly lines: ReadonlyArray<string>
  readonly check: Check
}

const outcomes: Array<Outcome> = []

flushAfterAll("input", () => {
  const groups = [...new Set(outcomes.map((outcome) => outcome.group))]
  for (const group of groups) {
    // in a stable order (they finish in any)
    const ours = outcomes.filter((outcome) => outcome.group === group).toSorted((a, b) => a.what.localeCompare(b.what))
    record({
      area,
      scenario: group,
      figures: {
        cases: ours.length,
        "exit codes": [...new Set(ours.map((outcome) => String(outcome.code)))].join(", "),
        "for example": ours[0]!.lines[0] ?? "(no line)"
      },
      checks: ours.map((outcome) => outcome.check),
      durationMs: 0
    })
  }
})

const stackTrace = /^\s+at .+\(?.*:\d+:\d+\)?$|^\s+at /

/** Runs the program to its end and judges its stderr and exit code. */
const judge = async (
  test: Test,
  { args, code, env = {}, group, names, program }: Omit<Case, "quick">,
  options: RunOptions = {},
  what = `${program === "client" ? "echo-client" : "echo-server"} ${
    [...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...args].join(" ")
  }`
): Promise<Outcome> => {
  const process_ = run(test, args, env, {
    ...options,
    ...(program === "client" ? { script: client } : {})
  })
  const exit = await deadline(process_.exit, 30_000, "exit")
  const lines = process_.lines()
  const problems = [
    ...(exit === code ? [] : [`exit ${exit}, not ${code}`]),
    ...(lines.length === 1 ? [] : [`${lines.length} lines`]),
    ...names.filter((name) => !name.split("|").some((one) => lines.join("\n").includes(one))).map((name) =>
      `does not name ${name}`
    ),
    ...(lines.some((line) => stackTrace.test(line)) ? ["a stack trace"] : [])
  ]
  const outcome: Outcome = {
    group,
    what,
    code: exit,
    lines,
    check: {
      name: `\`${what}\` → ${exit}${problems.length > 0 ? ` (${problems.join(", ")})` : ""}`,
      ok: problems.length === 0
    }
  }
  outcomes.push(outcome)
  return outcome
}

const expectOk = (outcome: Outcome) =>
  expect(outcome.check.ok, `${outcome.check.name}\n${outcome.lines.join("\n")}`).toBe(true)

describe.concurrent("bad input", () => {
  for (const item of cases) {
    const runIt = full || item.quick === true ? it : it.skip
    runIt(
      `${item.program} ${item.args.join(" ")} ${JSON.stringify(item.env ?? {})}: exit ${item.code}, one line`,
      async (test) => {
        expectOk(await judge(test, item))
      },
      60_000
    )
  }

  it("server --host nope.invalid: AddressResolutionError, exit 6", async (test) => {
    expectOk(
      await judge(test, {
        group: "server: addresses it cannot bind",
        program: "server",
        args: ["--host", "nope.invalid", "--port", "0"],
        code: codes.addressResolution,
        names: ["AddressResolutionError", "nope.invalid"]
      })
    )
  }, 60_000)

  const runFull = full ? it : it.skip
  runFull("server --metrics-host nope.invalid: AddressResolutionError, exit 6", async (test) => {
    expectOk(
      await judge(test, {
        group: "server: addresses it cannot bind",
        program: "server",
        args: ["--metrics-host", "nope.invalid", "--metrics-port", "0", "--port", "0"],
        code: codes.addressResolution,
        names: ["AddressResolutionError", "nope.invalid", "--metrics-port"]
      })
    )
  }, 60_000)

  runFull(
    "server --host 192.0.2.1 (an address not on this machine): AddressNotAvailableError, exit 1",
    async (test) => {
      expectOk(
        await judge(test, {
          group: "server: addresses it cannot bind",
          program: "server",
          args: ["--host", "192.0.2.1", "--port", "0"],
          code: codes.failure,
          names: ["AddressNotAvailableError", "192.0.2.1"]
        })
      )
    },
    60_000
  )

  // main.test.ts checks it in every run; here with the others in the long run
  runFull("server on a port in use: AddressInUseError naming the address, exit 1", async (test) => {
    const blocker = Net.createServer()
    blocker.listen(0, "127.0.0.1")
    await once(blocker, "listening")
    try {
      const port = (blocker.address() as Net.AddressInfo).port
      expectOk(
        await judge(test, {
          group: "server: addresses it cannot bind",
          program: "server",
          args: ["--port", String(port)],
          code: codes.failure,
          names: ["AddressInUseError", `127.0.0.1:${port}`]
        })
      )
    } finally {
      blocker.close()
    }
  }, 60_000)

  it("server on a privileged port without privilege: PermissionError, exit 8", async (test) => {
    const unprivilegedStart = Number(Fs.readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"))
    const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].some((path) => Fs.existsSync(path))
    const root = process.getuid?.() === 0
    if (unprivilegedStart <= 1) {
      return test.skip(`port 1 is unprivileged here (ip_unprivileged_port_start = ${unprivilegedStart})`)
    }
    if (root && !setpriv) return test.skip("running as root and setpriv is missing: cannot drop the capability")
    expectOk(
      await judge(
        test,
        {
          group: "server: addresses it cannot bind",
          program: "server",
          args: ["--port", "1"],
          code: codes.permission,
          names: ["PermissionError", "127.0.0.1:1"]
        },
        { withoutBindCapability: root },
        `echo-server --port 1 (${root ? "as root without CAP_NET_BIND_SERVICE, through setpriv" : "as this user"})`
      )
    )
  }, 60_000)

  runFull("client --host nope.invalid: AddressResolutionError, exit 6", async (test) => {
    expectOk(
      await judge(test, {
        group: "client: targets it cannot reach",
        program: "client",
        args: ["--host", "nope.invalid"],
        code: codes.addressResolution,
        names: ["AddressResolutionError", "nope.invalid"]
      })
    )
  }, 60_000)

  it("client to a port nothing listens on: ConnectionRefusedError, exit 3", async (test) => {
    // a port that was free a moment ago
    const probe = Net.createServer().listen(0, "127.0.0.1")
    await once(probe, "listening")
    const port = (probe.address() as Net.AddressInfo).port
    await new Promise((resolve) => probe.close(resolve))
    expectOk(
      await judge(test, {
        group: "client: targets it cannot reach",
        program: "client",
        args: ["--port", String(port)],
        code: codes.connectionRefused,
        names: ["ConnectionRefusedError", `127.0.0.1:${port}`]
      })
    )
  }, 60_000)
})

describe("durations beyond what a timer holds", () => {
  // found by this suite, fixed in 89b18d7 (Node's timers used to overflow with a plain-text warning); long run only
  const runFull = full ? it : it.skip

  runFull(
    "--idle-timeout 2200000 (over 2^31-1 ms): rejected (exit 2), or honoured with JSON-only logs",
    async (test) => {
      const started = Date.now()
      const server = await start(test, ["--idle-timeout", "2200000"]).catch(() => undefined)
      let nonJson: ReadonlyArray<string> = []
      if (server !== undefined) {
        const socket = await connect(server.port)
        socket.on("error", () => {})
        await server.waitFor((log) => log.message === "Connection opened")
        await sleep(300)
        socket.destroy()
        nonJson = server.lines().filter((line) => !line.startsWith("{"))
      }
      const checks = record({
        area,
        scenario: "server --idle-timeout 2200000 (more than a Node timer holds)",
        figures: {
          started: String(server !== undefined),
          "stderr lines that are not JSON": nonJson.length,
          "for example": nonJson[0] ?? "(none)"
        },
        checks: [{
          name: "rejected as a usage error, or every stderr line JSON",
          ok: server === undefined || nonJson.length === 0,
          fixedIn: "89b18d7"
        }],
        durationMs: Date.now() - started
      })
      expect(checks).toEqual({ "rejected as a usage error, or every stderr line JSON": true })
    },
    60_000
  )
})
