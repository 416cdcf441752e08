// `--metrics-port` end to end: main.ts as a process on loopback (through ServerProcess.ts), known
// traffic made with node:net, then /metrics read three ways: as text by this test, by
// `promtool check metrics`, and by a real Prometheus server that scrapes it, read back through its
// HTTP API. The last two skip, saying why, where Debian's prometheus package is missing and cannot be
// installed. Every process started here is killed when its test ends.
import { assert, describe, it } from "@effect/vitest"
import { once } from "node:events"
import * as Net from "node:net"
import { families, valueOf } from "./exposition.ts"
import { prometheusMissing, promtoolCheck, type Sample, startPrometheus } from "./prometheus.ts"
import {
  connect,
  deadline,
  type Log,
  patience,
  payload,
  type Process,
  received,
  run,
  start,
  type Test
} from "./ServerProcess.ts"

/** What every test sends: three echoes of these sizes, and one connection reset by the client. */
const sizes = [1_000, 20_000, 300_000]
const total = sizes.reduce((a, b) => a + b, 0)

const closedCount = (server: Process) => server.logs().filter((log) => log.message === "Connection closed").length

/** The three echoes, every byte checked, then one reset; resolves once the server logged every close. */
const traffic = async (server: Process, port: number) => {
  const before = closedCount(server)
  await Promise.all(sizes.map(async (size, i) => {
    const socket = await connect(port)
    const echo = received(socket)
    const sent = payload(size, i)
    socket.end(sent)
    assert.isTrue((await echo).equals(sent), `the echo of ${size} bytes`)
  }))
  const doomed = await connect(port)
  doomed.on("error", () => {})
  const peer = `127.0.0.1:${doomed.localPort}`
  await server.waitFor((log) => log.message === "Connection opened" && log.annotations.peer === peer)
  doomed.resetAndDestroy()
  await server.waitFor((log) => log.message === "Connection closed" && log.annotations.error === "ConnectionResetError")
  await deadline(
    new Promise<void>((resolve) => {
      const check = () => (closedCount(server) >= before + 4 ? resolve() : setTimeout(check, 20))
      check()
    }),
    patience,
    "every connection closed"
  )
}

const metricsPort = (server: Process): number =>
  server.logs().find((log: Log) => log.message.startsWith("Metrics on "))!.annotations.port as number

const scrape = async (port: number): Promise<string> => {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`)
  assert.strictEqual(response.status, 200)
  assert.strictEqual(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
  return response.text()
}

/** One server with its metrics on a free port, and the traffic made. */
const single = async (test: Test) => {
  const server = await start(test, ["--metrics-port", "0"])
  await traffic(server, server.port)
  return { server, metrics: metricsPort(server) }
}

/** `--workers 2` with the metrics on a free port, and the traffic made. */
const workers = async (test: Test) => {
  const server = run(test, ["--port", "0", "--log-format", "json", "--workers", "2", "--metrics-port", "0"])
  const started = await server.waitFor((log) => log.message.startsWith("Started 2 workers"))
  await traffic(server, started.annotations.port as number)
  return { server, metrics: metricsPort(server) }
}

describe.concurrent("echo-server --metrics-port", () => {
  it("serves /metrics: the connections, their bytes and durations, a reset by its tag", async (test) => {
    const { metrics, server } = await single(test)
    const text = await scrape(metrics)
    assert.strictEqual(valueOf(text, "echo_connections_accepted_total"), 4)
    assert.strictEqual(valueOf(text, "echo_connections_active"), 0)
    assert.strictEqual(valueOf(text, "echo_connections_rejected_total"), 0)
    assert.strictEqual(valueOf(text, "echo_bytes_in_total"), total)
    assert.strictEqual(valueOf(text, "echo_bytes_out_total"), total)
    assert.strictEqual(valueOf(text, `echo_connection_errors_total{error="ConnectionResetError"}`), 1)
    assert.strictEqual(valueOf(text, `echo_connection_duration_seconds_bucket{le="+Inf"}`), 4)
    assert.strictEqual(valueOf(text, "echo_connection_duration_seconds_count"), 4)
    // the log says where, and nothing but /metrics is served
    const line = server.logs().find((log) => log.message.startsWith("Metrics on "))!
    assert.strictEqual(line.message, `Metrics on http://127.0.0.1:${metrics}/metrics`)
    assert.strictEqual((await fetch(`http://127.0.0.1:${metrics}/`)).status, 404)
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("--workers 2: one endpoint in the parent, each worker's series with its worker label", async (test) => {
    const { metrics, server } = await workers(test)
    const text = await scrape(metrics)
    const declared = families(text)
    assert.deepStrictEqual(declared, [...new Set(declared)], "a family declared twice")
    const perWorker = (series: string) => [0, 1].map((worker) => valueOf(text, `${series}{worker="${worker}"}`) ?? 0)
    assert.deepStrictEqual(perWorker("echo_worker_up"), [1, 1])
    // the kernel spreads the connections: each worker's series is there, and they add up
    const sum = (series: string) => perWorker(series).reduce((a, b) => a + b, 0)
    assert.strictEqual(sum("echo_connections_accepted_total"), 4)
    assert.strictEqual(sum("echo_bytes_in_total"), total)
    assert.strictEqual(sum("echo_bytes_out_total"), total)
    assert.strictEqual(sum("echo_connection_duration_seconds_count"), 4)
    assert.deepStrictEqual(perWorker("echo_connections_active"), [0, 0])
    const resets = [0, 1].map((worker) =>
      valueOf(text, `echo_connection_errors_total{error="ConnectionResetError",worker="${worker}"}`) ?? 0
    )
    assert.strictEqual(resets[0]! + resets[1]!, 1)
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("reads ECHO_METRICS_PORT and ECHO_METRICS_HOST", async (test) => {
    const server = await start(test, [], { ECHO_METRICS_PORT: "0", ECHO_METRICS_HOST: "127.0.0.1" })
    const text = await scrape(metricsPort(server))
    assert.strictEqual(valueOf(text, "echo_connections_accepted_total"), 0)
  })

  it("holds at most 32 connections: one more is closed at once, and scrapes go on", async (test) => {
    const server = await start(test, ["--metrics-port", "0"])
    const port = metricsPort(server)
    const held = await Promise.all(Array.from({ length: 32 }, () => connect(port)))
    test.onTestFinished(() => held.forEach((socket) => socket.destroy()))
    const extra = await connect(port)
    extra.on("error", () => {})
    await deadline(once(extra, "close"), 10_000, "the 33rd connection to be closed")
    held.pop()!.destroy()
    held.pop()!.destroy()
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.strictEqual(valueOf(await scrape(port), "echo_connections_accepted_total"), 0)
  })

  it.for<readonly [string, ReadonlyArray<string>]>([["one server", []], ["--workers 2", ["--workers", "2"]]])(
    "%s: the metrics port taken is one line naming it, exit 1, and nothing else starts",
    async ([, args], test) => {
      const blocker = Net.createServer().listen(0, "127.0.0.1")
      await once(blocker, "listening")
      test.onTestFinished(() => void blocker.close())
      const taken = (blocker.address() as Net.AddressInfo).port
      const server = run(test, ["--port", "0", "--log-format", "pretty", "--metrics-port", String(taken), ...args])
      assert.strictEqual(await deadline(server.exit, patience, "exit"), 1)
      const lines = server.lines()
      assert.deepStrictEqual(lines, [
        `echo-server: AddressInUseError: [Errno 98] Address already in use: --metrics-port (127.0.0.1:${taken})`
      ])
    }
  )

  it.for<readonly [ReadonlyArray<string>, Record<string, string>, string]>([
    [["--metrics-port", "70000"], {}, "--metrics-port"],
    [["--metrics-port", "nine"], {}, "--metrics-port"],
    [[], { ECHO_METRICS_PORT: "-1" }, "--metrics-port"],
    [["--metrics-host", "::1"], {}, "--metrics-host"],
    [["--port", "9100", "--metrics-port", "9100"], {}, "--metrics-port 9100 is the echo server's --port"],
    [["--port", "9100", "--metrics-port", "9100", "--metrics-host", "0.0.0.0"], {}, "is the echo server's --port"],
    [["--metrics-port", "0", "--metrics-host", ""], {}, "--metrics-host"]
  ])("rejects %j %j with one line and exit 2, binding nothing", async ([args, env, named], test) => {
    const server = run(test, args, env)
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 2)
    const lines = server.lines()
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.include(lines[0], named)
  })
})

const values = (samples: ReadonlyArray<Sample>) => samples.map((sample) => sample.value)

/** The samples' values are these, in order. */
const is = (expected: ReadonlyArray<number>) => (samples: ReadonlyArray<Sample>) =>
  JSON.stringify(values(samples)) === JSON.stringify(expected)

const skipped = prometheusMissing === undefined ? "" : ` (skipped: ${prometheusMissing})`
if (prometheusMissing !== undefined) {
  console.warn(`metrics-endpoint.test.ts: Prometheus tests skipped: ${prometheusMissing}`)
}

describe.skipIf(prometheusMissing !== undefined).concurrent(`/metrics read by Prometheus's tools${skipped}`, () => {
  it("promtool check metrics passes what one server and --workers 2 serve, and fails a bad scrape", async (test) => {
    const [one, two] = await Promise.all([single(test), workers(test)])
    for (const text of [await scrape(one.metrics), await scrape(two.metrics)]) {
      const check = promtoolCheck(text)
      assert.strictEqual(check.status, 0, `${check.output}\n${text}`)
      assert.strictEqual(check.output, "")
    }
    // promtool does check: a family declared twice, as a naive concatenation of the workers' own would be
    const twice = `# TYPE echo_bytes_in_total counter\necho_bytes_in_total 1\n`.repeat(2)
    assert.notStrictEqual(promtoolCheck(twice).status, 0)
  }, 120_000)

  it("a Prometheus server scrapes one server and --workers 2, and reads the traffic back", async (test) => {
    const [one, two] = await Promise.all([single(test), workers(test)])
    const prometheus = await startPrometheus(test, {
      single: [`127.0.0.1:${one.metrics}`],
      workers: [`127.0.0.1:${two.metrics}`]
    })
    await prometheus.until(`sum(up{job=~"single|workers"})`, is([2]))
    for (const job of ["single", "workers"]) {
      await prometheus.until(`sum(echo_connections_accepted_total{job="${job}"})`, is([4]))
      await prometheus.until(`sum(echo_bytes_in_total{job="${job}"})`, is([total]))
      await prometheus.until(`sum(echo_bytes_out_total{job="${job}"})`, is([total]))
      await prometheus.until(`sum(echo_connection_errors_total{job="${job}",error="ConnectionResetError"})`, is([1]))
      await prometheus.until(`sum(echo_connection_duration_seconds_count{job="${job}"})`, is([4]))
      await prometheus.until(`sum(echo_connections_active{job="${job}"})`, is([0]))
    }
    const perWorker = await prometheus.until(`echo_worker_up{job="workers"}`, (samples) => samples.length === 2)
    assert.deepStrictEqual(perWorker.map((sample) => sample.metric.worker).toSorted(), ["0", "1"])
    assert.deepStrictEqual(values(perWorker), [1, 1])
    const accepted = await prometheus.query(`echo_connections_accepted_total{job="workers"}`)
    assert.deepStrictEqual(accepted.map((sample) => sample.metric.worker).toSorted(), ["0", "1"])
    // a query that cannot hold fails: the reading is real
    assert.deepStrictEqual(await prometheus.query(`echo_connections_accepted_total{job="single"} > 4`), [])
  }, 120_000)
})
