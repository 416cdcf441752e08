// Prometheus's own tools for the metrics tests: `promtool check metrics` and a real `prometheus`
// server, both from Debian's `prometheus` package. Where they are missing the package is installed
// (debian.ts: apt-get, as root) when the tests load; where that cannot be done, `prometheusMissing` says why and
// the tests skip saying so. Every prometheus started here is killed, and its folder removed, when the
// test that started it ends.
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ensureInstalled } from "./debian.ts"
import { deadline, freePort, sleep, type Test } from "./ServerProcess.ts"

/** Why promtool and prometheus cannot be used here, or `undefined` when they can. */
export const prometheusMissing: string | undefined = ensureInstalled({
  name: "prometheus",
  commands: [["promtool", "--version"], ["prometheus", "--version"]],
  neededBy: "metrics tests"
})

/** `promtool check metrics` on a scrape: its exit code and what it said. */
export const promtoolCheck = (text: string): { readonly status: number | null; readonly output: string } => {
  const result = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8", timeout: 30_000 })
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() }
}

/** One sample of an instant vector. */
export interface Sample {
  readonly metric: Record<string, string>
  readonly value: number
}

export interface Prometheus {
  readonly url: string
  /** `GET /api/v1/query`: the instant vector a PromQL expression gives now. */
  readonly query: (expression: string) => Promise<ReadonlyArray<Sample>>
  /** Queries until `expected` holds of the result (within `ms`); fails with the last result. */
  readonly until: (
    expression: string,
    expected: (samples: ReadonlyArray<Sample>) => boolean,
    ms?: number
  ) => Promise<ReadonlyArray<Sample>>
  readonly stderr: () => string
}

/** The scrape jobs: each job's name and its targets (`127.0.0.1:port`). */
export type Jobs = Readonly<Record<string, ReadonlyArray<string>>>

const config = (jobs: Jobs) =>
  // JSON is YAML
  JSON.stringify({
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    scrape_configs: Object.entries(jobs).map(([job, targets]) => ({
      job_name: job,
      static_configs: [{ targets }]
    }))
  })

/** Starts prometheus on loopback, scraping `jobs` every second, its config and data in a temp folder. */
export const startPrometheus = async (test: Test, jobs: Jobs): Promise<Prometheus> => {
  const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "echo-prometheus-"))
  Fs.writeFileSync(Path.join(folder, "prometheus.yml"), config(jobs))
  const port = await freePort()
  const child = spawn("prometheus", [
    `--config.file=${Path.join(folder, "prometheus.yml")}`,
    `--storage.tsdb.path=${Path.join(folder, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn"
  ], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr!.setEncoding("utf8").on("data", (data: string) => (stderr += data))
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  test.onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await deadline(exited, 10_000, "prometheus to exit").catch(() => {})
    Fs.rmSync(folder, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${port}`
  const ready = async () => {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`)
      const response = await fetch(`${url}/-/ready`).catch(() => undefined)
      if (response?.ok === true) return
      await sleep(100)
    }
  }
  await deadline(ready(), 30_000, "prometheus to be ready")
  const query = async (expression: string): Promise<ReadonlyArray<Sample>> => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expression)}`)
    const body = (await response.json()) as {
      readonly status: string
      readonly error?: string
      readonly data: { readonly result: ReadonlyArray<{ metric: Record<string, string>; value: [number, string] }> }
    }
    if (body.status !== "success") throw new Error(`${expression}: ${body.error}`)
    return body.data.result.map(({ metric, value }) => ({ metric, value: Number(value[1]) }))
  }
  const until = async (
    expression: string,
    expected: (samples: ReadonlyArray<Sample>) => boolean,
    ms = 30_000
  ) => {
    let last: ReadonlyArray<Sample> = []
    const stopAt = Date.now() + ms
    while (Date.now() < stopAt) {
      last = await query(expression)
      if (expected(last)) return last
      await sleep(250)
    }
    throw new Error(`timed out waiting for ${expression}: last ${JSON.stringify(last)}`)
  }
  return { url, query, until, stderr: () => stderr }
}
