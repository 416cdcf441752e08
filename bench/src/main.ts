/**
 * `pnpm bench`: our echo server side by side with its peers.
 *
 * Starts every server (one after another, each on a free loopback port, pinned to core 0; the TLS
 * servers with a certificate made now, in a temporary folder), measures the memory of each (but the
 * TLS ones) holding many idle connections, checks that our load generator
 * (`apps/client bench`) drives node:net within 0.8× of a raw node:net client (else the raw one
 * runs the cells), then drives each server with the same load (pinned to core 1) for every
 * message size and connection count (the TLS servers with the raw client over TLS), interleaving
 * the servers within each cell (the HAProxy ones through an HAProxy of their own, bench/src/haproxy.ts), and writes
 * bench/results/<date>.{md,json,svg}.
 *
 *   pnpm bench             the full run, for people (several minutes)
 *   pnpm bench --quick     a short run (under a minute), for CI
 *   pnpm bench --profile   also run the node servers under --cpu-prof (profiles in /tmp)
 *
 * Other flags: --only ours,node-net  --workers N  --duration S  --warmup S  --rounds N
 * --idle N (idle connections for the memory measurement)  --client auto|ours|raw (the load
 * generator of the cells; auto: checked against node:net first)  --out DIR
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import { parseArgs } from "node:util"
import { tlsFiles } from "./certs.ts"
import { renderChart } from "./chart.ts"
import * as Haproxy from "./haproxy.ts"
import { formatCell, renderMarkdown } from "./markdown.ts"
import {
  type Cores,
  cpuSeconds,
  findCores,
  pinned,
  type Proc,
  rssKiB,
  sleep,
  start,
  stop,
  waitForLine,
  withRaisedFdLimit
} from "./processes.ts"
import { type CpuProfile, renderProfile, summarizeProfile } from "./profile.ts"
import {
  BASELINE,
  type BenchResults,
  type Calibration,
  type Cell,
  CELLS,
  chooseClient,
  CLIENT_CHECK_THRESHOLD,
  type ClientCheck,
  type ClientId,
  evaluateTargets,
  type LoadResult,
  type Measured,
  medianRound,
  type MemoryResult,
  QUICK_SERVERS,
  type ServerInfo,
  worstClientRatio
} from "./results.ts"
import { findPython, path, servers, type ServerSpec } from "./servers.ts"
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
    client: { type: "string", default: "auto" },
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
const clientMain = { ours: path("apps/client/src/main.ts"), raw: path("bench/src/raw-client.ts") }
if (!["auto", "ours", "raw"].includes(flags.client)) {
  process.stderr.write(`bench: --client must be auto, ours or raw, not ${flags.client}\n`)
  process.exit(2)
}
/** servers on one core, load generators on the other (`taskset`), where the machine allows */
const cores: Cores = findCores(Os.cpus().length)
const serverCores = "server" in cores ? cores.server : undefined
const clientCores = "client" in cores ? cores.client : undefined

const log = (message: string) => process.stderr.write(`${message}\n`)

interface Running {
  readonly spec: ServerSpec
  readonly info: ServerInfo
  readonly proc: Proc
  /** the port the client connects to: the server's, or HAProxy's in front of it */
  readonly port: number
  /** HAProxy, for a server behind it */
  readonly balancer?: Proc
}

/** Stops a server, and HAProxy in front of it first. */
const stopServer = async (server: Running, graceMs?: number): Promise<number | string> => {
  if (server.balancer !== undefined) await stop(server.balancer, graceMs)
  return stop(server.proc, graceMs)
}

/**
 * Starts HAProxy on the servers' core in front of a backend that listens on `backendPort`, on a free port,
 * with the config every server behind it shares (bench/src/haproxy.ts).
 */
const startBalancer = async (
  spec: ServerSpec,
  backendPort: number
): Promise<{ readonly proc: Proc; readonly port: number } | { readonly skipped: string }> => {
  const found = Haproxy.haproxy()
  if ("skip" in found) return { skipped: found.skip }
  const port = await Haproxy.freePort()
  const config = Haproxy.config({ port, backendPort, sendProxyV2: spec.balancer?.sendProxyV2 === true })
  const [command, args] = pinned(serverCores, withRaisedFdLimit(...Haproxy.command(found.path, spec.id, config)))
  const proc = start(`HAProxy in front of ${spec.id}`, command, args)
  try {
    await Haproxy.waitListening(proc, port, 10_000)
    return { proc, port }
  } catch (error) {
    await stop(proc)
    return { skipped: `HAProxy failed to start: ${error instanceof Error ? error.message : String(error)}` }
  }
}

const startServer = async (
  spec: ServerSpec
): Promise<Running | { readonly skipped: string }> => {
  const nodeFlags = flags.profile
    ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${spec.id}.cpuprofile`]
    : []
  const launch = spec.launch(nodeFlags)
  if ("skip" in launch) return { skipped: launch.skip }
  const [command, args] = pinned(serverCores, withRaisedFdLimit(launch.command, launch.args))
  const proc = start(spec.id, command, args)
  try {
    const match = await waitForLine(proc, launch.ready, 30_000)
    const info = { id: spec.id, label: spec.label, description: spec.description }
    if (spec.balancer === undefined) return { spec, info, proc, port: Number(match[1]) }
    const balancer = await startBalancer(spec, Number(match[1]))
    if ("skipped" in balancer) {
      await stop(proc)
      return balancer
    }
    return { spec, info, proc, port: balancer.port, balancer: balancer.proc }
  } catch (error) {
    await stop(proc)
    return { skipped: `failed to start: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}` }
  }
}

/** RSS of the server before and while `connections` idle connections are held by a helper process. */
const measureMemory = async (server: Running, connections: number): Promise<MemoryResult> => {
  await sleep(500)
  const rssBeforeKiB = rssKiB(server.proc.pid)
  const [command, args] = pinned(
    clientCores,
    withRaisedFdLimit(process.execPath, [
      path("bench/src/idle-connections.ts"),
      String(server.port),
      String(connections),
      "100"
    ])
  )
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

/** One closed-loop run of `client` against `server`; the raw client is one process (`workers` is ours'). */
const drive = async (
  client: ClientId,
  server: Running,
  size: number,
  connections: number,
  workers: number,
  durationSeconds = config.durationSeconds,
  warmupSeconds = config.warmupSeconds
): Promise<Measured> => {
  const common = [
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
    String(warmupSeconds)
  ]
  // a TLS server: the raw client over TLS, trusting the bench's CA (the server started, so the files exist)
  const files = server.spec.tls === true ? tlsFiles() : undefined
  const tls = files === undefined || "skip" in files ? [] : ["--tls", "--ca", files.ca]
  const args = client === "raw"
    ? [clientMain.raw, ...common, ...tls]
    : [clientMain.ours, "bench", ...common, "--workers", String(workers), "--json"]
  const timeout = (durationSeconds + warmupSeconds) * 1000 + 60_000
  const [command, pinnedArgs] = pinned(clientCores, [process.execPath, args])
  const proc = start(`${client} client against ${server.info.id}`, command, pinnedArgs)
  const killer = setTimeout(() => proc.child.kill("SIGKILL"), timeout)
  // The server's CPU time over the measured window: the load starts when the client logs
  // that its connections are open (one worker, or the raw client) or its workers started (several), then
  // warms up; the window is read on our clock, a few ms off the client's.
  const loadStarts = client === "ours" && workers > 1 ? /workers started/ : /connections open/
  const samples: Array<number> = []
  // the client's own CPU time, where it is one process (the raw client, or ours with one worker):
  // near 100 % of its core, the client sets the pace
  const oneProcess = client === "raw" || workers === 1
  const clientSamples: Array<number> = []
  const balancerSamples: Array<number> = []
  const timers: Array<NodeJS.Timeout> = []
  let started = false
  proc.onLine((line) => {
    if (started || !loadStarts.test(line)) return
    started = true
    for (const at of [warmupSeconds, warmupSeconds + durationSeconds]) {
      timers.push(setTimeout(() => {
        samples.push(cpuSeconds(server.proc.pid))
        if (server.balancer !== undefined) balancerSamples.push(cpuSeconds(server.balancer.pid))
        if (oneProcess && proc.child.exitCode === null) {
          try {
            clientSamples.push(cpuSeconds(proc.pid))
          } catch {
            // it has just exited
          }
        }
      }, at * 1000))
    }
  })
  const code = await proc.exited
  clearTimeout(killer)
  for (const timer of timers) clearTimeout(timer)
  // the client may end before our timer for the window's end fires: the server is idle from then on
  if (samples.length === 1) samples.push(cpuSeconds(server.proc.pid))
  if (balancerSamples.length === 1 && server.balancer !== undefined) {
    balancerSamples.push(cpuSeconds(server.balancer.pid))
  }
  if (code !== 0) throw new Error(`client exited ${code}:\n${proc.tail()}`)
  const summary = parseSummary(proc.stdout())
  const [from, to] = samples
  const [clientFrom, clientTo] = clientSamples
  const [balancerFrom, balancerTo] = balancerSamples
  return {
    summary,
    ...(from === undefined || to === undefined
      ? {}
      : { serverCpu: { seconds: to - from, windowSeconds: durationSeconds } }),
    ...(clientFrom === undefined || clientTo === undefined
      ? {}
      : { clientCpu: { seconds: clientTo - clientFrom, windowSeconds: durationSeconds } }),
    ...(balancerFrom === undefined || balancerTo === undefined
      ? {}
      : { balancerCpu: { seconds: balancerTo - balancerFrom, windowSeconds: durationSeconds } })
  }
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
    const { summary } = await drive("ours", baseline, 1024, 100, workers, 2, 0.5)
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

/**
 * Is our client fast enough to measure with? It drives node:net in `cells`, and so does the raw client;
 * below 0.8× the raw client's requests/s in any of them, ours would set the pace, and the raw client
 * runs the cells. Returns what both measured (empty when a client failed; then the raw client runs).
 */
const checkClients = async (
  baseline: Running,
  cells: ReadonlyArray<Cell>,
  workers: number
): Promise<Array<ClientCheck>> => {
  const checks: Array<ClientCheck> = []
  for (const cell of cells) {
    try {
      const ours = (await drive("ours", baseline, cell.size, cell.connections, workers)).summary.requestsPerSecond
      const raw = (await drive("raw", baseline, cell.size, cell.connections, workers)).summary.requestsPerSecond
      checks.push({ cell, ours: Math.round(ours), raw: Math.round(raw) })
      log(
        `bench: client check: node:net, ${formatCell(cell)}: ours ${Math.round(ours)} req/s, raw ${
          Math.round(raw)
        } req/s (${(ours / raw).toFixed(2)}×)`
      )
    } catch (error) {
      log(`bench: client check, ${formatCell(cell)} failed: ${error}`)
      return []
    }
  }
  return checks
}

/** The cells of the client check: every cell in a full run; with --quick the two that ask most of a client. */
const checkCells = (): ReadonlyArray<Cell> =>
  quick
    ? CELLS.filter((c) => (c.size === 1024 && c.connections === 100) || (c.size === 100 * 1024 && c.connections === 10))
    : CELLS

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
  const only = flags.only?.split(",").map((s) => s.trim()) ?? (quick ? QUICK_SERVERS : undefined)
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
  log(
    "note" in cores
      ? `bench: ${cores.note}`
      : `bench: servers on core ${cores.server}, load generators on core ${cores.client} (taskset)`
  )

  const infos: Array<ServerInfo> = []
  const running: Array<Running> = []
  for (const spec of specs) {
    const result = await startServer(spec)
    if ("skipped" in result) {
      log(`bench: skipping ${spec.label}: ${result.skipped}`)
      infos.push({ id: spec.id, label: spec.label, description: spec.description, skipped: result.skipped })
    } else {
      log(
        `bench: ${spec.label} listening on 127.0.0.1:${result.port} (pid ${result.proc.pid}${
          result.balancer === undefined ? "" : `, HAProxy's pid ${result.balancer.pid}`
        })`
      )
      infos.push(result.info)
      running.push(result)
    }
  }
  if (!running.some((r) => r.info.id === BASELINE)) throw new Error("the baseline node:net server did not start")

  const memory: Array<MemoryResult> = []
  // a profile should show the load, not the opening of 10,000 connections (and the profiler holds memory)
  if (flags.profile) log("bench: --profile: memory not measured")
  for (const [index, server] of (flags.profile ? [] : running).entries()) {
    // the holder's idle connections are plain TCP: a TLS server would wait for their handshakes
    if (server.spec.tls === true) {
      log(`bench: memory of ${server.info.label} not measured: its idle connections would need TLS`)
      continue
    }
    // through HAProxy, 10,000 idle connections would measure HAProxy's memory as much as the server's
    if (server.balancer !== undefined) {
      log(`bench: memory of ${server.info.label} not measured: it is behind HAProxy`)
      continue
    }
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
    await stopServer(server)
    const fresh = await startServer(specs.find((spec) => spec.id === server.info.id)!)
    if ("skipped" in fresh) throw new Error(`${server.info.label} did not start again: ${fresh.skipped}`)
    running[index] = fresh
  }

  const baseline = running.find((r) => r.info.id === BASELINE)!
  // --quick: one worker (the client's own core); a full run calibrates unless told
  const calibration = flags.workers === undefined && !quick && flags.client !== "raw"
    ? await calibrateWorkers(baseline)
    : undefined
  const workers = calibration?.workers ?? numberFlag(flags.workers, 1)
  log(`bench: ${workers} client worker(s)`)

  const check = flags.client === "auto" ? await checkClients(baseline, checkCells(), workers) : []
  const client: ClientId = flags.client === "auto" ? chooseClient(check) : flags.client === "ours" ? "ours" : "raw"
  const worst = worstClientRatio(check)
  const why = flags.client !== "auto"
    ? `chosen with --client ${flags.client} (no check)`
    : worst === undefined
    ? "the client check failed: the raw client runs the cells"
    : client === "ours"
    ? `our client drives node:net to ${
      worst.toFixed(2)
    }× the raw client's requests/s at worst (≥ ${CLIENT_CHECK_THRESHOLD}×)`
    : `our client drives node:net to only ${
      worst.toFixed(2)
    }× the raw client's requests/s at worst (< ${CLIENT_CHECK_THRESHOLD}×): the raw client runs the cells`
  log(`bench: load generator: ${client === "ours" ? "apps/client bench" : "bench/src/raw-client.ts"}: ${why}`)

  // the framed servers answer only the raw client's messages, which are frames; the TLS servers are driven
  // by the raw client over TLS, whichever client runs the other cells
  const loaded = client === "raw" ? running : running.filter((server) => !server.spec.framed)
  const clientOf = (server: Running): ClientId => server.spec.tls === true ? "raw" : client
  for (const server of running) {
    if (!loaded.includes(server)) log(`bench: ${server.info.label}: no cells, it needs the raw client's frames`)
    if (server.spec.tls === true) log(`bench: ${server.info.label}: driven by bench/src/raw-client.ts --tls`)
  }
  const rounds = new Map<string, Array<Measured>>()
  const total = config.rounds * CELLS.length * loaded.length
  let done = 0
  for (let round = 0; round < config.rounds; round++) {
    for (const cell of CELLS) {
      for (const server of loaded) {
        done++
        const key = `${server.info.id} ${cell.size} ${cell.connections}`
        try {
          const measured = await drive(clientOf(server), server, cell.size, cell.connections, workers)
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
            }${
              measured.clientCpu === undefined
                ? ""
                : `, client CPU ${Math.round((100 * measured.clientCpu.seconds) / measured.clientCpu.windowSeconds)} %`
            }${
              measured.balancerCpu === undefined
                ? ""
                : `, HAProxy CPU ${
                  Math.round((100 * measured.balancerCpu.seconds) / measured.balancerCpu.windowSeconds)
                } %`
            }${errors > 0 ? `, ${errors} errors` : ""}`
          )
        } catch (error) {
          log(`bench: [${done}/${total}] ${server.info.label}, ${formatCell(cell)} failed: ${error}`)
        }
      }
    }
  }
  for (const server of running) {
    const code = await stopServer(server, 10_000)
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
      loadGenerator: { client, why, check },
      pinning: cores,
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
