// main.ts as a process, against real servers on 127.0.0.1 (port 0).
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as Summary from "../src/Summary.ts"
import { blackhole, client, freePort, kill, lines, run, server } from "./helpers.ts"

// the one line of a failure: the last, and the only one from the program itself
const errorLine = (stderr: string): string => {
  const all = lines(stderr)
  assert.strictEqual(all.filter((line) => line.startsWith("echo-client:")).length, 1, stderr)
  return all.at(-1)!
}

const json = (stderr: string) => lines(stderr).map((line) => JSON.parse(line) as Record<string, unknown>)

describe.concurrent("echo", () => {
  it("with no arguments does what the seed does: Hello World!, logged, checked, exit 0", async () => {
    const srv = await server()
    try {
      // the port from the environment: the only difference with a bare `pnpm client`
      const result = await run([], { env: { ECHO_PORT: String(srv.port), ECHO_LOG_FORMAT: "json" } })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString(), "Hello World!\n")
      const messages = json(result.stderr).map((entry) => entry.message)
      assert.include(messages, `connected to 127.0.0.1:${srv.port}`)
      assert.include(messages, "sent: \"Hello World!\"")
      assert.include(messages, "recv: \"Hello World!\"")
      assert.strictEqual(srv.received(), 12)
    } finally {
      await srv.close()
    }
  })

  it("echo <message> --count 3 sends it three times on one connection", async () => {
    const srv = await server()
    try {
      const result = await run(["echo", "ping", "--count", "3", "--interval", "0.01", "--port", String(srv.port)])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString(), "ping\nping\nping\n")
      assert.strictEqual(srv.received(), 12)
      assert.strictEqual(srv.accepted(), 1)
      assert.include(result.stderr, "3 of 3 echoes, 12 bytes")
    } finally {
      await srv.close()
    }
  })

  it("--stdin streams 10 MiB through the server intact, with a half-close at the end", async () => {
    const srv = await server()
    try {
      const input = randomBytes(10 * 1024 * 1024)
      const result = await run(["--stdin", "--port", String(srv.port), "--log-format", "json"], { input })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.length, input.length)
      assert.isTrue(result.stdout.equals(input))
      assert.strictEqual(srv.received(), input.length)
      const last = json(result.stderr).at(-1)!
      assert.strictEqual(last.message, `sent ${input.length} bytes, received ${input.length} bytes`)
    } finally {
      await srv.close()
    }
  })

  it("refused: exit 3, one line", async () => {
    const port = await freePort()
    const result = await run(["--port", String(port), "--log-format", "pretty"])
    assert.strictEqual(result.code, 3)
    assert.deepStrictEqual(lines(result.stderr), [
      `echo-client: ConnectionRefusedError: [Errno 111] Connection refused (127.0.0.1:${port})`
    ])
    assert.strictEqual(result.stdout.length, 0)
  })

  it("a host that does not resolve: exit 6", async () => {
    const result = await run(["--host", "no-such-host.invalid", "--log-format", "pretty"])
    assert.strictEqual(result.code, 6)
    const [line, ...rest] = lines(result.stderr)
    assert.deepStrictEqual(rest, [])
    assert.match(line!, /^echo-client: AddressResolutionError: \[Errno -?\d+\] .*no-such-host\.invalid/)
  })

  it("a connect that does not complete in --connect-timeout: exit 4", async () => {
    const hole = await blackhole()
    try {
      const result = await run(["--port", String(hole.port), "--connect-timeout", "0.3", "--log-format", "pretty"])
      assert.strictEqual(result.code, 4)
      assert.deepStrictEqual(lines(result.stderr), [
        `echo-client: TimeoutError: [Errno 110] Connection timed out: connect timed out after 0.3s (127.0.0.1:${hole.port})`
      ])
    } finally {
      hole.close()
    }
  })

  it("a server that resets the connection: exit 5", async () => {
    const srv = await server("reset")
    try {
      const result = await run(["--port", String(srv.port), "--log-format", "pretty"])
      assert.strictEqual(result.code, 5)
      assert.match(
        errorLine(result.stderr),
        /^echo-client: ConnectionResetError: \[Errno 104\] Connection reset by peer/
      )
    } finally {
      await srv.close()
    }
  })

  it("an echo that differs: EchoMismatchError, exit 7", async () => {
    const srv = await server("upper")
    try {
      const result = await run(["--port", String(srv.port), "--log-format", "pretty"])
      assert.strictEqual(result.code, 7)
      assert.strictEqual(
        errorLine(result.stderr),
        `echo-client: EchoMismatchError: the echo differs at byte 1: sent "ello World!", received "ELLO WORLD!" (127.0.0.1:${srv.port})`
      )
    } finally {
      await srv.close()
    }
  })

  it.each([
    [["--port", "abc"], "--port"],
    [["--port", "70000"], "--port"],
    [["--count", "0"], "--count"],
    [["--interval", "soon"], "--interval"],
    [["bench", "--connections", "0"], "--connections"],
    [["--bogus"], "--bogus"]
  ])("%j is a usage error: exit 2, one line", async (args, named) => {
    const result = await run(args)
    assert.strictEqual(result.code, 2)
    const output = lines(result.stderr)
    assert.strictEqual(output.length, 1, result.stderr)
    assert.include(output[0], named)
  })

  it("SIGINT during --count: exit 130 after saying what was done", async () => {
    const srv = await server()
    const c = client(["hi", "--count", "1000", "--interval", "0.05", "--port", String(srv.port)])
    try {
      await c.waitFor("hi\nhi\n", "stdout")
      c.child.kill("SIGINT")
      const result = await c.done
      assert.strictEqual(result.code, 130)
      assert.match(result.stderr, /interrupted: \d+ of 1000 echoes, \d+ bytes/)
      // everything sent was echoed before the exit
      const echoes = lines(result.stdout.toString()).length
      assert.strictEqual(srv.received(), echoes * 2)
    } finally {
      kill(c)
      await srv.close()
    }
  })

  it("SIGINT during --stdin: half-close, the echo in flight arrives, exit 130", async () => {
    const srv = await server()
    const c = client(["--stdin", "--port", String(srv.port)], { keepStdinOpen: true })
    try {
      await c.waitFor("connected to")
      c.child.stdin!.write("first part\n")
      await c.waitFor("first part\n", "stdout")
      c.child.kill("SIGINT")
      const result = await c.done
      assert.strictEqual(result.code, 130)
      assert.strictEqual(result.stdout.toString(), "first part\n")
      assert.include(result.stderr, "interrupted: sent 11 bytes, received 11 bytes")
    } finally {
      kill(c)
      await srv.close()
    }
  })

  it("--retries: a refused connect is retried with backoff, then it fails with exit 3", async () => {
    const port = await freePort()
    const result = await run(["--port", String(port), "--retries", "2", "--log-format", "json"])
    assert.strictEqual(result.code, 3)
    const entries = json(result.stderr)
    assert.strictEqual(
      entries.filter((entry) => String(entry.message).startsWith("connect failed, retrying")).length,
      2
    )
    assert.strictEqual(entries.at(-1)!.level, "ERROR")
  })
})

const checkSummary = (summary: Summary.Summary) => {
  assert.strictEqual(summary.requests * summary.size, summary.bytes)
  assert.isAbove(summary.requests, 0)
  assert.isAbove(summary.durationSeconds, 0)
  // rates agree with the counts to a millionth (the summary rounds its duration to microseconds)
  const rps = summary.requests / summary.durationSeconds
  const mibps = summary.bytes / summary.durationSeconds / 1048576
  assert.closeTo(summary.requestsPerSecond, rps, rps * 1e-6 + 0.001)
  assert.closeTo(summary.mibPerSecond, mibps, mibps * 1e-6 + 0.000001)
  const l = summary.latencyMicros
  assert.isTrue(0 < l.min && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max)
}

describe.concurrent("bench", () => {
  it("--json: one object on stdout whose bytes agree with what the server received", async () => {
    const srv = await server()
    try {
      const args = ["bench", "--port", String(srv.port), "--connections", "3", "--size", "100"]
      const result = await run([...args, "--duration", "1", "--warmup", "0", "--json"])
      assert.strictEqual(result.code, 0, result.stderr)
      const [line, ...rest] = lines(result.stdout.toString())
      assert.deepStrictEqual(rest, [])
      const summary = JSON.parse(line!) as Summary.Summary
      assert.deepStrictEqual(Object.keys(summary), [
        "connections",
        "size",
        "durationSeconds",
        "requests",
        "bytes",
        "requestsPerSecond",
        "mibPerSecond",
        "latencyMicros",
        "errors"
      ])
      assert.strictEqual(summary.connections, 3)
      assert.strictEqual(summary.size, 100)
      assert.deepStrictEqual(summary.errors, {})
      checkSummary(summary)
      // the server got every measured byte, plus at most the messages in flight at either edge
      assert.isAtLeast(srv.received(), summary.bytes)
      assert.isAtMost(srv.received() - summary.bytes, 2 * 3 * 100)
    } finally {
      await srv.close()
    }
  })

  it("--workers 2: the children's summaries and histograms merge into one", async () => {
    const srv = await server()
    try {
      const args = ["bench", "--port", String(srv.port), "--connections", "4", "--size", "64", "--workers", "2"]
      const result = await run([...args, "--duration", "1", "--warmup", "0", "--json"])
      assert.strictEqual(result.code, 0, result.stderr)
      const summary = JSON.parse(result.stdout.toString()) as Summary.Summary
      assert.strictEqual(summary.connections, 4)
      checkSummary(summary)
      // 4 loaded connections and the parent's first one
      assert.strictEqual(srv.accepted(), 5)
      assert.isAtLeast(srv.received(), summary.bytes)
      assert.isAtMost(srv.received() - summary.bytes, 2 * 4 * 64)
    } finally {
      await srv.close()
    }
  })

  it("the summary for people on stdout", async () => {
    const srv = await server()
    try {
      const result = await run(["bench", "--port", String(srv.port), "--connections", "1", "--duration", "0.3"])
      assert.strictEqual(result.code, 0, result.stderr)
      const [first, second, third, fourth] = lines(result.stdout.toString())
      assert.match(first!, /^\d+ requests in \d+\.\d{3} s, 1 connections, 1024 bytes a message$/)
      assert.match(second!, /requests\/s, .* MiB\/s \(\d+ bytes echoed\)$/)
      assert.match(third!, /^ {2}latency min .* p50 .* p90 .* p99 .* p99\.9 .* max /)
      assert.strictEqual(fourth, "  errors: none")
    } finally {
      await srv.close()
    }
  })

  it("SIGINT mid-run: drains, prints the partial summary, exit 130", async () => {
    const srv = await server()
    const c = client(
      // no warm-up: the server's count then differs from the summary only by what was in flight
      ["bench", "--port", String(srv.port), "--connections", "2", "--duration", "60", "--warmup", "0"],
      {
        env: { ECHO_BENCH_JSON: "true", ECHO_LOG_FORMAT: "json" }
      }
    )
    try {
      await c.waitFor("connections open")
      await new Promise((resolve) => setTimeout(resolve, 700))
      c.child.kill("SIGINT")
      const result = await c.done
      assert.strictEqual(result.code, 130, result.stderr)
      const summary = JSON.parse(result.stdout.toString()) as Summary.Summary
      assert.strictEqual(summary.connections, 2)
      assert.isBelow(summary.durationSeconds, 60)
      checkSummary(summary)
      assert.isAtMost(srv.received() - summary.bytes, 2 * 2 * 1024 + 2 * 1024 * 1024)
      assert.include(result.stderr, "interrupted: reporting what was measured")
    } finally {
      kill(c)
      await srv.close()
    }
  })

  it("SIGINT with --workers 2: each worker drains once, the parent merges the partial summaries", async () => {
    const srv = await server()
    const c = client([
      "bench",
      "--port",
      String(srv.port),
      "--connections",
      "2",
      "--workers",
      "2",
      "--duration",
      "60",
      "--warmup",
      "0",
      "--json"
    ])
    try {
      await c.waitFor("2 workers started")
      // both workers loaded
      while (lines(c.stderr()).filter((line) => line.includes("connections open")).length < 2) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
      c.child.kill("SIGINT")
      const result = await c.done
      assert.strictEqual(result.code, 130, result.stderr)
      const summary = JSON.parse(result.stdout.toString()) as Summary.Summary
      assert.strictEqual(summary.connections, 2)
      checkSummary(summary)
    } finally {
      kill(c)
      await srv.close()
    }
  })

  it("a server that is not there: exit 3", async () => {
    const port = await freePort()
    const result = await run(["bench", "--port", String(port), "--duration", "1", "--json"])
    assert.strictEqual(result.code, 3)
    assert.strictEqual(result.stdout.length, 0)
  })

  it("a server that echoes something else: errors by tag", async () => {
    const srv = await server("upper")
    try {
      const result = await run([
        "bench",
        "--port",
        String(srv.port),
        "--connections",
        "1",
        "--duration",
        "0.5",
        "--json"
      ])
      assert.strictEqual(result.code, 0, result.stderr)
      const summary = JSON.parse(result.stdout.toString()) as Summary.Summary
      assert.isAbove(summary.errors.EchoMismatchError ?? 0, 0)
      assert.strictEqual(summary.requests, 0)
    } finally {
      await srv.close()
    }
  })
})
