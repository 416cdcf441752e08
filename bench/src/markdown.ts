/**
 * The results as a Markdown page: targets (pass/fail), the load table, the memory table.
 */
import {
  balancerCpuShare,
  BASELINE,
  type BenchResults,
  type Cell,
  CLIENT_CHECK_THRESHOLD,
  type ClientCheck,
  clientCpuShare,
  cpuMicrosPerRequest,
  cpuShare,
  evaluateTargets,
  findLoad,
  kibPerConnection,
  type Measured,
  type Metric,
  ratio,
  ratioTo,
  type ServerInfo,
  type TargetResult
} from "./results.ts"
import { errorCount } from "./summary.ts"

export const formatSize = (bytes: number): string =>
  bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : bytes % 1024 === 0
    ? `${bytes / 1024} KiB`
    : `${bytes} B`

export const formatCell = (cell: Cell): string => `${formatSize(cell.size)} × ${cell.connections} conns`

export const formatPercent = (share: number | undefined): string =>
  share === undefined ? "—" : `${Math.round(100 * share)} %`

export const formatMicros = (us: number | undefined): string =>
  us === undefined ? "—" : us >= 100 ? us.toFixed(0) : us.toFixed(1)

export const formatRatio = (r: number | undefined): string => r === undefined ? "—" : `${r.toFixed(2)}×`

/** 148912.3 → "148.9k", 812.4 → "812" */
export const formatCount = (n: number): string =>
  n >= 1_000_000 ? `${(n / 1_000_000).toFixed(2)}M` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0)

const metricLabels: Record<Metric, string> = {
  requestsPerSecond: "requests/s",
  mibPerSecond: "MiB/s",
  p50: "p50 latency",
  p99: "p99 latency",
  cpuPerRequest: "server CPU time per request",
  memory: "memory per idle connection"
}

const labelOf = (servers: ReadonlyArray<ServerInfo>, id: string): string =>
  servers.find((s) => s.id === id)?.label ?? id

const tableLine = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [tableLine(header), tableLine(header.map(() => "---")), ...rows.map(tableLine)].join("\n")

export const targetsTable = (results: BenchResults, targets: ReadonlyArray<TargetResult>): string =>
  table(
    ["server", "metric", "vs", "in", "measured", "target", "result"],
    targets.map(({ pass, ratio, target }) => [
      labelOf(results.servers, target.server),
      metricLabels[target.metric],
      labelOf(results.servers, target.baseline),
      target.cell === undefined ? `${results.run.config.idleConnections} idle conns` : formatCell(target.cell),
      formatRatio(ratio),
      `${target.op === ">=" ? "≥" : "≤"} ${target.threshold}×`,
      ratio === undefined ? "❌ not measured" : pass ? "✅ pass" : "❌ FAIL"
    ])
  )

/** One line per server with targets: how many of its targets pass. */
export const targetsByServer = (results: BenchResults, targets: ReadonlyArray<TargetResult>): string =>
  targets
    .map((t) => t.target.server)
    .filter((server, i, all) => all.indexOf(server) === i)
    .map((server) => {
      const own = targets.filter((t) => t.target.server === server)
      return `- ${labelOf(results.servers, server)}: ${own.filter((t) => t.pass).length} of ${own.length} pass`
    })
    .join("\n")

/** node:net driven by both load generators, before the cells. */
export const clientCheckTable = (checks: ReadonlyArray<ClientCheck>): string =>
  table(
    ["size", "conns", "apps/client req/s", "raw client req/s", "ours ÷ raw", `≥ ${CLIENT_CHECK_THRESHOLD}×`],
    checks.map((check) => {
      const r = ratio(check.ours, check.raw)
      return [
        formatSize(check.cell.size),
        String(check.cell.connections),
        formatCount(check.ours),
        formatCount(check.raw),
        formatRatio(r),
        r === undefined ? "—" : r >= CLIENT_CHECK_THRESHOLD ? "yes" : "no"
      ]
    })
  )

/** The server's share of its core; behind HAProxy, HAProxy's beside it (they share the core). */
const serverCpuCell = (load: Measured): string => {
  const balancer = balancerCpuShare(load)
  return balancer === undefined
    ? formatPercent(cpuShare(load))
    : `${formatPercent(cpuShare(load))} + HAProxy ${formatPercent(balancer)}`
}

const ran = (results: BenchResults): ReadonlyArray<ServerInfo> => results.servers.filter((s) => s.skipped === undefined)

export const loadTable = (results: BenchResults): string => {
  const base = labelOf(results.servers, BASELINE)
  const rows: Array<Array<string>> = []
  for (const cell of results.cells) {
    for (const server of ran(results)) {
      const load = findLoad(results, server.id, cell)
      if (load === undefined) continue
      const s = load.summary
      const r = (metric: Metric) => formatRatio(ratioTo(results, server.id, metric, cell))
      rows.push([
        formatSize(cell.size),
        String(cell.connections),
        server.label,
        formatCount(s.requestsPerSecond),
        r("requestsPerSecond"),
        s.mibPerSecond.toFixed(1),
        r("mibPerSecond"),
        String(Math.round(s.latencyMicros.p50)),
        r("p50"),
        String(Math.round(s.latencyMicros.p99)),
        r("p99"),
        serverCpuCell(load),
        formatMicros(cpuMicrosPerRequest(load)),
        r("cpuPerRequest"),
        formatPercent(clientCpuShare(load)),
        String(errorCount(s))
      ])
    }
  }
  return table(
    [
      "size",
      "conns",
      "server",
      "req/s",
      `× ${base}`,
      "MiB/s",
      `× ${base}`,
      "p50 µs",
      `× ${base}`,
      "p99 µs",
      `× ${base}`,
      "server CPU",
      "CPU µs/req",
      `× ${base}`,
      "client CPU",
      "errors"
    ],
    rows
  )
}

export const memoryTable = (results: BenchResults): string => {
  const base = labelOf(results.servers, BASELINE)
  const rows = ran(results).flatMap((server) => {
    const memory = results.memory.find((m) => m.server === server.id)
    if (memory === undefined) return []
    return [[
      server.label,
      `${(memory.rssBeforeKiB / 1024).toFixed(1)} MiB`,
      `${(memory.rssAfterKiB / 1024).toFixed(1)} MiB`,
      kibPerConnection(memory).toFixed(2),
      formatRatio(ratioTo(results, server.id, "memory"))
    ]]
  })
  const n = results.run.config.idleConnections
  return table(["server", "RSS before", `RSS with ${n} idle conns`, "KiB per conn", `× ${base}`], rows)
}

const loadavg = (l: ReadonlyArray<number>) => l.map((x) => x.toFixed(2)).join(" ")

export const renderMarkdown = (results: BenchResults, chartFile: string): string => {
  const { config, load, loadGenerator, machine, pinning } = results.run
  const targets = evaluateTargets(results)
  const passed = targets.filter((t) => t.pass).length
  const skipped = results.servers.filter((s) => s.skipped !== undefined)
  return [
    `# Echo server benchmark, ${results.run.date} (${results.run.mode}${results.run.profiled ? ", profiled" : ""})`,
    "",
    `Generated by \`pnpm bench${
      results.run.mode === "quick" ? " --quick" : ""
    }\`; how to read it: [bench/README.md](../README.md).`,
    "Every ratio is to plain `node:net` measured in the same run.",
    "",
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.kernel}`,
    `- node ${machine.node}; python: ${machine.python}`,
    `- load: ${
      loadGenerator.client === "raw"
        ? "the raw node:net client (`bench/src/raw-client.ts`, one process)"
        : `\`apps/client bench\` with ${config.workers} worker process(es)`
    }${
      loadGenerator.client === "ours" && config.workersCalibration.length > 0
        ? ` (calibrated: node:net, 1 KiB × 100 conns: ${
          config.workersCalibration.map((c) => `${c.workers} → ${formatCount(c.requestsPerSecond)} req/s`).join(", ")
        })`
        : ""
    }, ${config.warmupSeconds} s warm-up + ${config.durationSeconds} s measured, ${config.rounds} round(s) (the median round by requests/s is shown)`,
    `- load generator: ${loadGenerator.why}`,
    `- cores: ${
      "note" in pinning
        ? pinning.note
        : `servers on core ${pinning.server}, load generators on core ${pinning.client} (\`taskset -c\`)`
    }`,
    `- load average (1, 5, 15 min) before: ${loadavg(load.before)}, after: ${loadavg(load.after)}; run took ${
      Math.round(results.run.elapsedSeconds)
    } s`,
    ...(results.run.profiled
      ? ["- **profiled** with `--cpu-prof`: the numbers are perturbed, do not compare them"]
      : []),
    ...skipped.map((s) => `- skipped ${s.label}: ${s.skipped}`),
    "",
    `## Targets: ${passed} of ${targets.length} pass`,
    "",
    targetsByServer(results, targets),
    "",
    targetsTable(results, targets),
    "",
    `![ratios to node:net](./${chartFile})`,
    "",
    ...(loadGenerator.check.length === 0 ? [] : [
      "## Load generator check: plain node:net driven by each client",
      "",
      clientCheckTable(loadGenerator.check),
      ""
    ]),
    `## Load: closed loop, one message in flight per connection (${
      loadGenerator.client === "raw" ? "raw node:net client" : "apps/client bench"
    })`,
    "",
    loadTable(results),
    "",
    "## Memory: RSS per idle connection",
    "",
    memoryTable(results),
    "",
    "## Servers",
    "",
    ...results.servers.map((s) => `- ${s.label}: ${s.description}`),
    ""
  ].join("\n")
}
