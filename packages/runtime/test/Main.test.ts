import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"

const fixture = fileURLToPath(new URL("./fixtures/app.ts", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = async (args: ReadonlyArray<string>, signals: ReadonlyArray<NodeJS.Signals> = []): Promise<Run> => {
  const child = spawn(process.execPath, [fixture, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d
    // signals 50 ms apart: two identical signals sent at once coalesce into one
    if (d.includes("ready")) signals.forEach((s, i) => setTimeout(() => child.kill(s), 50 * i))
  })
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  const [code] = await once(child, "exit")
  return { code, stdout, stderr }
}

const lines = (text: string) => text.split("\n").filter((line) => line.length > 0)

describe.concurrent("Main.run", () => {
  it("flushes all its output before it exits, also to a slow reader", async () => {
    const child = spawn(process.execPath, [fixture, "--mode", "flood"], { stdio: ["ignore", "pipe", "ignore"] })
    // read nothing for a while: the pipe fills and Node queues the rest
    child.stdout.pause()
    setTimeout(() => child.stdout.resume(), 500)
    let bytes = 0
    child.stdout.on("data", (chunk: Buffer) => (bytes += chunk.length))
    const [code] = await once(child, "close")
    assert.strictEqual(code, 0)
    assert.strictEqual(bytes, 10 * 1024 * 1024)
  })

  it("exits 0 on success", async () => {
    const result = await run(["--mode", "ok", "--log-format", "json"])
    assert.strictEqual(result.code, 0)
    assert.strictEqual(JSON.parse(lines(result.stderr)[0]!).message, "fine")
  })

  it("turns a typed failure into one line and its exit code", async () => {
    const result = await run(["--mode", "refused", "--port", "8888", "--log-format", "pretty"])
    assert.strictEqual(result.code, 3)
    assert.deepStrictEqual(lines(result.stderr), [
      "fixture: ConnectionRefusedError: [Errno 111] Connection refused (127.0.0.1:8888)"
    ])
  })

  it("reports the failure as a JSON line in json format", async () => {
    const result = await run(["--mode", "refused", "--log-format", "json"])
    assert.strictEqual(result.code, 3)
    const [line, ...rest] = lines(result.stderr)
    assert.deepStrictEqual(rest, [])
    const parsed = JSON.parse(line!)
    assert.strictEqual(parsed.level, "ERROR")
    assert.strictEqual(parsed.annotations.error, "ConnectionRefusedError")
    assert.strictEqual(parsed.annotations.code, "ECONNREFUSED")
  })

  it("turns a defect into one line, no stack trace", async () => {
    const result = await run(["--mode", "defect", "--log-format", "pretty"])
    assert.strictEqual(result.code, 1)
    assert.deepStrictEqual(lines(result.stderr), ["fixture: Error: boom"])
  })

  it.each([
    [["--mode", "ok", "--port", "70000"], "--port"],
    [["--mode", "ok", "--port", "abc"], "--port"],
    [["--mode", "nope"], "--mode"],
    [["--mode", "ok", "--bogus"], "--bogus"]
  ])("rejects %j with one line and exit 2", async (args, named) => {
    const result = await run(args)
    assert.strictEqual(result.code, 2)
    const output = lines(result.stderr)
    assert.strictEqual(output.length, 1, result.stderr)
    assert.include(output[0], named)
    assert.strictEqual(result.stdout, "")
  })

  it("reads flags from the environment", async () => {
    const child = await new Promise<Run>((resolve) => {
      const c = spawn(process.execPath, [fixture, "--mode", "ok"], {
        env: { ...process.env, FIXTURE_LOG_FORMAT: "json" }
      })
      let stderr = ""
      c.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
      c.on("exit", (code) => resolve({ code, stdout: "", stderr }))
    })
    assert.strictEqual(child.code, 0)
    assert.strictEqual(JSON.parse(lines(child.stderr)[0]!).message, "fine")
  })

  it("shuts down gracefully on the first signal", async () => {
    const result = await run(["--mode", "wait", "--log-format", "json"], ["SIGTERM"])
    assert.strictEqual(result.code, 0)
    assert.strictEqual(JSON.parse(lines(result.stderr)[0]!).message, "draining after SIGTERM")
  })

  it("exits at once with 130 on a second signal", async () => {
    const result = await run(["--mode", "wait", "--log-format", "json"], ["SIGINT", "SIGINT"])
    assert.strictEqual(result.code, 130)
  })
})
