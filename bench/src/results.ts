/**
 * What a bench run produces (the `.json` file), the ratios to the baseline and the
 * targets our server must reach. Pure functions only: no I/O here.
 */
import type { LoadSummary } from "./summary.ts"

/** The server every ratio is taken against. */
export const BASELINE = "node-net"
/** Our server. */
export const OURS = "ours"

export interface Cell {
  readonly size: number
  readonly connections: number
}

export interface ServerInfo {
  readonly id: string
  readonly label: string
  readonly description: string
  /** Why the server did not run (not installed, failed to start); absent when it ran. */
  readonly skipped?: string
}

/** What one client run measured: its summary, and the server's CPU time over the measured window. */
export interface Measured {
  readonly summary: LoadSummary
  readonly serverCpu?: { readonly seconds: number; readonly windowSeconds: number }
}

export interface LoadResult extends Measured {
  readonly server: string
  readonly cell: Cell
  /** requests/s of every round, in order; `summary` and `serverCpu` are those of the median round. */
  readonly rounds: ReadonlyArray<number>
}

/** The server's share of one core over the measured window (1 = one core busy all the time). */
export const cpuShare = (load: Measured): number | undefined =>
  load.serverCpu === undefined || !(load.serverCpu.windowSeconds > 0)
    ? undefined
    : load.serverCpu.seconds / load.serverCpu.windowSeconds

/** The server's CPU time per request over the measured window, in µs; the efficiency a slow client cannot hide. */
export const cpuMicrosPerRequest = (load: Measured): number | undefined =>
  load.serverCpu === undefined || !(load.summary.requests > 0)
    ? undefined
    : (1e6 * load.serverCpu.seconds * (load.summary.durationSeconds / load.serverCpu.windowSeconds)) /
      load.summary.requests

export interface MemoryResult {
  readonly server: string
  readonly connections: number
  readonly rssBeforeKiB: number
  readonly rssAfterKiB: number
}

export interface Calibration {
  readonly workers: number
  readonly requestsPerSecond: number
}

export interface RunInfo {
  readonly date: string
  readonly mode: "quick" | "full"
  readonly profiled: boolean
  readonly machine: {
    readonly cpu: string
    readonly cores: number
    readonly memoryGiB: number
    readonly kernel: string
    readonly node: string
    readonly python: string
  }
  readonly load: {
    readonly before: ReadonlyArray<number>
    readonly after: ReadonlyArray<number>
  }
  readonly config: {
    readonly durationSeconds: number
    readonly warmupSeconds: number
    readonly workers: number
    /** node:net's requests/s at 1 KiB × 100 conns with each worker count tried (empty: not calibrated) */
    readonly workersCalibration: ReadonlyArray<Calibration>
    readonly rounds: number
    readonly idleConnections: number
  }
  readonly elapsedSeconds: number
}

export interface BenchResults {
  readonly run: RunInfo
  readonly servers: ReadonlyArray<ServerInfo>
  readonly cells: ReadonlyArray<Cell>
  readonly loads: ReadonlyArray<LoadResult>
  readonly memory: ReadonlyArray<MemoryResult>
}

export type Metric = "requestsPerSecond" | "mibPerSecond" | "p50" | "p99" | "cpuPerRequest" | "memory"

export const metricValue = (load: Measured, metric: Exclude<Metric, "memory">): number | undefined => {
  switch (metric) {
    case "requestsPerSecond":
      return load.summary.requestsPerSecond
    case "mibPerSecond":
      return load.summary.mibPerSecond
    case "p50":
      return load.summary.latencyMicros.p50
    case "p99":
      return load.summary.latencyMicros.p99
    case "cpuPerRequest":
      return cpuMicrosPerRequest(load)
  }
}

export const kibPerConnection = (memory: MemoryResult): number =>
  (memory.rssAfterKiB - memory.rssBeforeKiB) / memory.connections

export const sameCell = (a: Cell, b: Cell): boolean => a.size === b.size && a.connections === b.connections

export const findLoad = (results: BenchResults, server: string, cell: Cell): LoadResult | undefined =>
  results.loads.find((load) => load.server === server && sameCell(load.cell, cell))

/** A server's value of a metric, for a cell (ignored for memory); undefined when not measured. */
export const valueOf = (
  results: BenchResults,
  server: string,
  metric: Metric,
  cell?: Cell
): number | undefined => {
  if (metric === "memory") {
    const memory = results.memory.find((m) => m.server === server)
    return memory === undefined ? undefined : kibPerConnection(memory)
  }
  if (cell === undefined) return undefined
  const load = findLoad(results, server, cell)
  return load === undefined ? undefined : metricValue(load, metric)
}

/** `value / base`; undefined when either is missing or the base is not positive. */
export const ratio = (value: number | undefined, base: number | undefined): number | undefined =>
  value === undefined || base === undefined || !(base > 0) ? undefined : value / base

/** A server's metric as a multiple of another server's (by default: of plain node:net). */
export const ratioTo = (
  results: BenchResults,
  server: string,
  metric: Metric,
  cell?: Cell,
  baseline: string = BASELINE
): number | undefined => ratio(valueOf(results, server, metric, cell), valueOf(results, baseline, metric, cell))

export interface Target {
  readonly metric: Metric
  readonly baseline: string
  readonly cell?: Cell
  /** at least (`>=`, more is better) or at most (`<=`, less is better) */
  readonly op: ">=" | "<="
  readonly threshold: number
}

export interface TargetResult {
  readonly target: Target
  readonly ratio: number | undefined
  readonly pass: boolean
}

const KiB = 1024
const cellsOf = (sizes: ReadonlyArray<number>, connections: ReadonlyArray<number>): Array<Cell> =>
  sizes.flatMap((size) => connections.map((c) => ({ size, connections: c })))

/** The cells every server is driven through: 1, 10 and 100 KiB at 10 and 100 connections. */
export const CELLS: ReadonlyArray<Cell> = cellsOf([KiB, 10 * KiB, 100 * KiB], [10, 100])

/** The targets of issue #7, each checked in every cell it names. */
export const targetsFor = (cells: ReadonlyArray<Cell>): ReadonlyArray<Target> => [
  ...cells.filter((c) => c.size === KiB).map((cell): Target => ({
    metric: "requestsPerSecond",
    baseline: BASELINE,
    cell,
    op: ">=",
    threshold: 0.95
  })),
  ...cells.filter((c) => c.size === 100 * KiB).map((cell): Target => ({
    metric: "mibPerSecond",
    baseline: BASELINE,
    cell,
    op: ">=",
    threshold: 0.95
  })),
  ...cells.map((cell): Target => ({ metric: "p99", baseline: BASELINE, cell, op: "<=", threshold: 1.2 })),
  { metric: "memory", baseline: BASELINE, op: "<=", threshold: 1.2 },
  ...cells.filter((c) => c.size === KiB).map((cell): Target => ({
    metric: "requestsPerSecond",
    baseline: "asyncio",
    cell,
    op: ">=",
    threshold: 3
  }))
]

export const evaluateTarget = (results: BenchResults, target: Target): TargetResult => {
  const r = ratioTo(results, OURS, target.metric, target.cell, target.baseline)
  const pass = r !== undefined && (target.op === ">=" ? r >= target.threshold : r <= target.threshold)
  return { target, ratio: r, pass }
}

export const evaluateTargets = (results: BenchResults): ReadonlyArray<TargetResult> =>
  targetsFor(results.cells).map((target) => evaluateTarget(results, target))

/** The median of the rounds by requests/s (the lower middle one for an even count). */
export const medianRound = <A>(rounds: ReadonlyArray<A>, key: (a: A) => number): A => {
  if (rounds.length === 0) throw new Error("medianRound: no rounds")
  const sorted = rounds.toSorted((a, b) => key(a) - key(b))
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}
