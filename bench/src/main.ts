/**
 * `pnpm bench`: our echo server side by side with its peers.
 *
 * Starts every server (one after another, each on a free loopback port), measures the
 * memory of each holding many idle connections, then drives each with the same load
 * (`apps/client bench`) for every message size and connection count, interleaving the
 * servers within each cell, and writes bench/results/<date>.{md,json,svg}.
 *
 *   pnpm bench             the full run, for people (several minutes)
 *   pnpm bench --quick     a short run (under a minute), for CI
 *   pnpm bench --profile   also run the node servers under --cpu-prof (profiles in /tmp)
 *
 * Other flags: --only ours,node-net  --workers N  --duration S  --warmup S  --rounds N
 * --idle N (idle connections for the memory measurement)  --out DIR
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import { parseArgs } from "node:util"
import { renderChart } from "./chart.ts"
import { formatCell, renderMarkdown } from "./markdown.ts"
import { cpuSeconds, type Proc, rssKiB, sleep, start, stop, waitForLine, withRaisedFdLimit } from "./processes.ts"
import { type CpuProfile, renderProfile, summarizeProfile } from "./profile.ts"
import {
  BASELINE,
  type BenchResults,
  type Calibration,
  CELLS,
  evaluateTargets,
  type LoadResult,
  type Measured,
  medianRound,
  type MemoryResult,
  OURS,
  type ServerInfo
} from "./results.ts"
import { findPython, path, servers } from "./servers.ts"
import { errorCount, parseSummary } from "./summary.ts"

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
    workers: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    rounds: { type: "string" },
    idle: { type: "string" },
    out: { type: "string" }
  }
})

const quick = flags.quick
const numberFlag = (value: string | undefined, fallback: number) => value === undefined ? fallback : Number(value)
const config = {
  durationSeconds: numberFlag(flags.duration, quick ? 0.5 : 5),
  warmupSeconds: numberFlag(flags.warmup, quick ? 0.25 : 1),
  rounds: numberFlag(flags.rounds, quick ? 1 : 3),
  idleConnections: numberFlag(flags.idle, 10_000)
}
const outDir = flags.out ?? path("bench/results")
const profileDir = "/tmp/effect-tcp-bench-profiles"
const client = path("apps/client/src/main.ts")

const log = (message: string) => process.stderr.write(`${message}\n`)

interface Running {
  readonly info: ServerInfo
  readonly proc: Proc
  readonly port: number
}

const startServer = async (
  spec: ReturnType<typeof servers>[number]
): Promise<Running | { readonly skipped: string }> => {
  const nodeFlags = flags.profile
    ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${spec.id}.cpuprofile`]
    : []
  const launch = spec.launch(nodeFlags)
  if ("skip" in launch) return { skipped: launch.skip }
  const [command, args] = withRaisedFdLimit(launch.command, launch.args)
  const proc = start(spec.id, command, args)
  try {
    const match = await waitForLine(proc, launch.ready, 30_000)
    const info = { id: spec.id, label: spec.label, description: spec.description }
    return { info, proc, port: Number(match[1]) }
  } catch (error) {
    await stop(proc)
    return { skipped: `failed to start: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}` }
  }
}

/** RSS of the server before and while `connections` idle connections are held by a helper process. */
const measureMemory = async (server: Running, connections: number): Promise<MemoryResult> => {
  await sleep(500)
  const rssBeforeKiB = rssKiB(server.proc.pid)
  const [command, args] = withRaisedFdLimit(process.execPath, [
    path("bench/src/idle-connections.ts"),
    String(server.port),
    String(connections),
    "100"
  ])
  const holder = start(`idle connections to ${server.info.id}`, command, args, { stdin: "pipe" })
  try {
    const line = await waitForLine(holder, /^(ready|error) ?(.*)$/, 120_000)
    if (line[1] === "error") throw new Error(`${holder.name}: ${line[2]}`)
    await sleep(1000)
    const rssAfterKiB = rssKiB(server.proc.pid)
    return { server: server.info.id, connections, rssBeforeKiB, rssAfterKiB }
  } finally {
    holder.child.stdin?.end()
    await stop(holder, 10_000)
    await sleep(500)
  }
}

const drive = async (
  server: Running,
  size: number,
  connections: number,
  workers: number,
  durationSeconds = config.durationSeconds,
  warmupSeconds = config.warmupSeconds
): Promise<Measured> => {
  const args = [
    client,
    "bench",
    "--host",
    "127.0.0.1",
    "--port",
    String(server.port),
    "--connections",
    String(connections),
    "--size",
    String(size),
    "--duration",
    String(durationSeconds),
    "--warmup",
    String(warmupSeconds),
    "--workers",
    String(workers),
    "--json"
  ]
  const timeout = (durationSeconds + warmupSeconds) * 1000 + 60_000
  const proc = start(`client against ${server.info.id}`, process.execPath, args)
  const killer = setTimeout(() => proc.child.kill("SIGKILL"), timeout)
  // The server's CPU time over the measured window: the load starts when the client logs
  // that its connections are open (one worker) or its workers started (several), then
  // warms up; the window is read on our clock, a few ms off the client's.
  const loadStarts = workers > 1 ? /workers started/ : /connections open/
  const samples: Array<number> = []
  const timers: Array<NodeJS.Timeout> = []
  let started = false
  proc.onLine((line) => {
    if (started || !loadStarts.test(line)) return
    started = true
    for (const at of [warmupSeconds, warmupSeconds + durationSeconds]) {
      timers.push(setTimeout(() => samples.push(cpuSeconds(server.proc.pid)), at * 1000))
    }
  })
  const code = await proc.exited
  clearTimeout(killer)
  for (const timer of timers) clearTimeout(timer)
  // the client may end before our timer for the window's end fires: the server is idle from then on
  if (samples.length === 1) samples.push(cpuSeconds(server.proc.pid))
  if (code !== 0) throw new Error(`client exited ${code}:\n${proc.tail()}`)
  const summary = parseSummary(proc.stdout())
  const [from, to] = samples
  return from === undefined || to === undefined
    ? { summary }
    : { summary, serverCpu: { seconds: to - from, windowSeconds: durationSeconds } }
}

/**
 * How many client processes: as many as give plain node:net the most requests/s at
 * 1 KiB × 100 connections (the cell that asks the most of the generator), fewer
 * unless more are clearly (5 %) better: on 2 cores every worker beyond the first
 * takes CPU time from the server it measures.
 */
const calibrateWorkers = async (baseline: Running): Promise<{ workers: number; tried: Array<Calibration> }> => {
  const tried: Array<Calibration> = []
  for (const workers of [1, 2, 3]) {
    const { summary } = await drive(baseline, 1024, 100, workers, 2, 0.5)
    tried.push({ workers, requestsPerSecond: Math.round(summary.requestsPerSecond) })
    log(
      `bench: calibrating: node:net, 1 KiB × 100 conns, ${workers} worker(s): ${
        Math.round(summary.requestsPerSecond)
      } req/s`
    )
  }
  const best = tried.reduce((a, b) => b.requestsPerSecond > a.requestsPerSecond * 1.05 ? b : a)
  return { workers: best.workers, tried }
}

const machine = (python: string) => {
  const cpus = Os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round(Os.totalmem() / 2 ** 30),
    kernel: `${Os.type()} ${Os.release()}`,
    node: process.version,
    python
  }
}

const main = async () => {
  const started = Date.now()
  const loadBefore = Os.loadavg()
  const pythons = { asyncio: findPython("asyncio"), uvloop: findPython("uvloop") }
  // --quick: only the servers the targets name (the client's start-up, ~1-2 s a cell, dominates a short run)
  const only = flags.only?.split(",").map((s) => s.trim()) ?? (quick ? [OURS, "asyncio"] : undefined)
  const specs = servers(pythons).filter((s) => only === undefined || only.includes(s.id) || s.id === BASELINE)
  if (flags.profile) {
    rmSync(profileDir, { recursive: true, force: true })
    mkdirSync(profileDir, { recursive: true })
  }
  log(
    `bench: ${
      quick ? "quick" : "full"
    } run, ${config.rounds} round(s) of ${config.warmupSeconds}+${config.durationSeconds} s per cell`
  )

  const infos: Array<ServerInfo> = []
  const running: Array<Running> = []
  for (const spec of specs) {
    const result = await startServer(spec)
    if ("skipped" in result) {
      log(`bench: skipping ${spec.label}: ${result.skipped}`)
      infos.push({ id: spec.id, label: spec.label, description: spec.description, skipped: result.skipped })
    } else {
      log(`bench: ${spec.label} listening on 127.0.0.1:${result.port} (pid ${result.proc.pid})`)
      infos.push(result.info)
      running.push(result)
    }
  }
  if (!running.some((r) => r.info.id === BASELINE)) throw new Error("the baseline node:net server did not start")

  const memory: Array<MemoryResult> = []
  // a profile should show the load, not the opening of 10,000 connections (and the profiler holds memory)
  if (flags.profile) log("bench: --profile: memory not measured")
  for (const [index, server] of (flags.profile ? [] : running).entries()) {
    try {
      const m = await measureMemory(server, config.idleConnections)
      memory.push(m)
      log(
        `bench: ${server.info.label}: ${
          ((m.rssAfterKiB - m.rssBeforeKiB) / m.connections).toFixed(2)
        } KiB per idle connection`
      )
    } catch (error) {
      log(`bench: memory of ${server.info.label} not measured: ${error instanceof Error ? error.message : error}`)
    }
    // The load is measured on a fresh process: one that has just held and dropped 10,000 connections has a
    // heap V8 sized for them, and its garbage collector behaves otherwise for a while.
    await stop(server.proc)
    const fresh = await startServer(specs.find((spec) => spec.id === server.info.id)!)
    if ("skipped" in fresh) throw new Error(`${server.info.label} did not start again: ${fresh.skipped}`)
    running[index] = fresh
  }

  const baseline = running.find((r) => r.info.id === BASELINE)!
  // --quick: one worker (the client's own core); a full run calibrates unless told
  const calibration = flags.workers === undefined && !quick ? await calibrateWorkers(baseline) : undefined
  const workers = calibration?.workers ?? numberFlag(flags.workers, 1)
  log(`bench: ${workers} client worker(s)`)

  const rounds = new Map<string, Array<Measured>>()
  const total = config.rounds * CELLS.length * running.length
  let done = 0
  for (let round = 0; round < config.rounds; round++) {
    for (const cell of CELLS) {
      for (const server of running) {
        done++
        const key = `${server.info.id} ${cell.size} ${cell.connections}`
        try {
          const measured = await drive(server, cell.size, cell.connections, workers)
          const { summary } = measured
          rounds.set(key, [...(rounds.get(key) ?? []), measured])
          const errors = errorCount(summary)
          log(
            `bench: [${done}/${total}] ${server.info.label}, ${formatCell(cell)}: ${
              Math.round(summary.requestsPerSecond)
            } req/s, ${summary.mibPerSecond.toFixed(1)} MiB/s, p99 ${summary.latencyMicros.p99} µs${
              measured.serverCpu === undefined
                ? ""
                : `, server CPU ${Math.round((100 * measured.serverCpu.seconds) / measured.serverCpu.windowSeconds)} %`
            }${errors > 0 ? `, ${errors} errors` : ""}`
          )
        } catch (error) {
          log(`bench: [${done}/${total}] ${server.info.label}, ${formatCell(cell)} failed: ${error}`)
        }
      }
    }
  }
  for (const server of running) {
    const code = await stop(server.proc, 10_000)
    if (code !== 0 && code !== 130 && code !== "SIGTERM") log(`bench: ${server.info.label} exited with ${code}`)
  }

  const loads: Array<LoadResult> = []
  for (const server of running) {
    for (const cell of CELLS) {
      const measured = rounds.get(`${server.info.id} ${cell.size} ${cell.connections}`) ?? []
      if (measured.length === 0) continue
      const median = medianRound(measured, (m) => m.summary.requestsPerSecond)
      loads.push({
        server: server.info.id,
        cell,
        ...median,
        rounds: measured.map((m) => m.summary.requestsPerSecond)
      })
    }
  }

  const date = new Date().toISOString().slice(0, 10)
  const python = [pythons.asyncio, pythons.uvloop]
    .filter((p) => p !== undefined)
    .map((p) => `${p.executable} ${p.version}`)
    .filter((p, i, all) => all.indexOf(p) === i)
    .join(", ") || "none"
  const results: BenchResults = {
    run: {
      date,
      mode: quick ? "quick" : "full",
      profiled: flags.profile,
      machine: machine(python),
      load: { before: loadBefore, after: Os.loadavg() },
      config: { ...config, workers, workersCalibration: calibration?.tried ?? [] },
      elapsedSeconds: (Date.now() - started) / 1000
    },
    servers: infos,
    cells: CELLS,
    loads,
    memory
  }

  const name = `${date}${quick ? "-quick" : ""}${flags.profile ? "-profile" : ""}`
  mkdirSync(outDir, { recursive: true })
  let markdown = renderMarkdown(results, `${name}.svg`)
  if (flags.profile) {
    markdown += "\n## Profiles (`--cpu-prof`, self time)\n\n"
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile")).toSorted()) {
      const profile = JSON.parse(readFileSync(`${profileDir}/${file}`, "utf8")) as CpuProfile
      const section = renderProfile(file, summarizeProfile(profile, 25))
      markdown += `${section}\n`
      log(`\n${section}`)
    }
    log(`bench: profiles in ${profileDir}`)
  }
  writeFileSync(`${outDir}/${name}.json`, `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(`${outDir}/${name}.md`, markdown)
  writeFileSync(`${outDir}/${name}.svg`, renderChart(results))
  if (!quick && !flags.profile && flags.out === undefined && flags.only === undefined) {
    copyFileSync(`${outDir}/${name}.svg`, `${outDir}/latest.svg`)
  }

  const targets = evaluateTargets(results)
  process.stdout.write(markdown)
  log(`\nbench: ${targets.filter((t) => t.pass).length} of ${targets.length} targets pass`)
  log(`bench: wrote ${outDir}/${name}.md, .json and .svg in ${Math.round((Date.now() - started) / 1000)} s`)
}

main().catch((error: unknown) => {
  log(`bench: failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exit(1)
})
