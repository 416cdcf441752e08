/**
 * What a bench run produces (the `.json` file), the ratios to the baseline and the
 * targets our server must reach. Pure functions only: no I/O here.
 */
import type { LoadSummary } from "./summary.ts"

/** The server every ratio is taken against. */
export const BASELINE = "node-net"
/** Our server, started as `pnpm start` starts it (with `Heap.nodeFlags`). */
export const OURS = "ours"
/** Our server app started with plain `node`, no V8 flags. */
export const OURS_NO_FLAGS = "ours-no-flags"
/** A user's program on the library, plain `node`: `serve(c => c.copyTo(c))`. */
export const LIBRARY_COPY = "library-copy"
/** The same with the README's echo: `stream` run into `sink`. */
export const LIBRARY_STREAM = "library-stream"
/** Plain node:net in a process that has loaded `effect` and `@effect/platform-node`. */
export const NODE_NET_EFFECT = "node-net-effect"
/** A length-prefixed frame echo by hand on node:net: the reference for `LIBRARY_FRAMED`. */
export const NODE_NET_FRAMED = "node-net-framed"
/** The same frame echo on the library, with `Reader.readExactly`. */
export const LIBRARY_FRAMED = "library-framed"
/** The framing by hand again, run by one Effect fiber per connection: the floor under `LIBRARY_FRAMED`. */
export const EFFECT_FIBER_FRAMED = "effect-fiber-framed"
/** A plain node:tls echo: the baseline of `LIBRARY_TLS`. */
export const NODE_TLS = "node-tls"
/** The library's echo over TLS: `Tcp.listen({ tls })`, `serve(c => c.copyTo(c))`. */
export const LIBRARY_TLS = "library-tls"
/** The node:tls echo in a process that has loaded `effect` and `@effect/platform-node`: the floor under `LIBRARY_TLS`. */
export const NODE_TLS_EFFECT = "node-tls-effect"
/** HAProxy (mode tcp) in front of the plain node:net echo, no PROXY header: the baseline of `HAPROXY_LIBRARY`. */
export const HAPROXY_NODE_NET = "haproxy-node-net"
/** HAProxy with `send-proxy-v2` in front of the library's copyTo echo reading the PROXY protocol. */
export const HAPROXY_LIBRARY = "haproxy-library"

/** What `--quick` runs besides the baseline: every server a target names, and the two that explain them. */
export const QUICK_SERVERS: ReadonlyArray<string> = [
  OURS,
  LIBRARY_COPY,
  LIBRARY_STREAM,
  OURS_NO_FLAGS,
  NODE_NET_EFFECT,
  NODE_NET_FRAMED,
  LIBRARY_FRAMED,
  EFFECT_FIBER_FRAMED,
  NODE_TLS,
  LIBRARY_TLS,
  NODE_TLS_EFFECT,
  HAPROXY_NODE_NET,
  HAPROXY_LIBRARY,
  "asyncio",
  "uvloop"
]

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
  /** The load generator's CPU time over the same window, where it is one process. */
  readonly clientCpu?: { readonly seconds: number; readonly windowSeconds: number }
  /** HAProxy's CPU time over the same window, for a server behind it (`serverCpu` is then the backend's). */
  readonly balancerCpu?: { readonly seconds: number; readonly windowSeconds: number }
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

/** HAProxy's share of one core over the measured window, for a server behind it. */
export const balancerCpuShare = (load: Measured): number | undefined =>
  load.balancerCpu === undefined || !(load.balancerCpu.windowSeconds > 0)
    ? undefined
    : load.balancerCpu.seconds / load.balancerCpu.windowSeconds

/** The load generator's share of its core over the measured window (where it is one process). */
export const clientCpuShare = (load: Measured): number | undefined =>
  load.clientCpu === undefined || !(load.clientCpu.windowSeconds > 0)
    ? undefined
    : load.clientCpu.seconds / load.clientCpu.windowSeconds

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

/** The load generators: `apps/client bench` (ours, on Effect) or `bench/src/raw-client.ts` (plain node:net). */
export type ClientId = "ours" | "raw"

/** node:net's requests/s in one cell driven by each client. */
export interface ClientCheck {
  readonly cell: Cell
  readonly ours: number
  readonly raw: number
}

/** Our client must drive node:net to at least this share of the raw client's requests/s to run the cells. */
export const CLIENT_CHECK_THRESHOLD = 0.8

/** Our client's requests/s as a share of the raw client's, in the cell where it does worst. */
export const worstClientRatio = (checks: ReadonlyArray<ClientCheck>): number | undefined =>
  checks.reduce<number | undefined>((worst, check) => {
    const r = ratio(check.ours, check.raw)
    return r === undefined ? worst : worst === undefined ? r : Math.min(worst, r)
  }, undefined)

/** Which client runs the cells: ours when it keeps within the threshold of the raw client in every cell checked. */
export const chooseClient = (checks: ReadonlyArray<ClientCheck>): ClientId => {
  const worst = worstClientRatio(checks)
  return worst !== undefined && worst >= CLIENT_CHECK_THRESHOLD ? "ours" : "raw"
}

/** Where the processes ran: servers and load generators on their own cores (`taskset -c`), or why not. */
export type Pinning =
  | { readonly server: string; readonly client: string }
  | { readonly note: string }

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
  /** The client that ran the cells, why, and the check of both clients against node:net before them. */
  readonly loadGenerator: {
    readonly client: ClientId
    readonly why: string
    readonly check: ReadonlyArray<ClientCheck>
  }
  readonly pinning: Pinning
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
  /** the server that must reach it */
  readonly server: string
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

/**
 * A goal: a server's metric against a baseline, checked in each of the cells `cells` picks from the run's
 * (none: memory, one number per server).
 */
interface Goal {
  readonly server: string
  readonly metric: Metric
  readonly baseline: string
  readonly op: ">=" | "<="
  readonly threshold: number
  readonly cells?: (cells: ReadonlyArray<Cell>) => ReadonlyArray<Cell>
}

const every = (cells: ReadonlyArray<Cell>) => cells
const ofSize = (size: number) => (cells: ReadonlyArray<Cell>) => cells.filter((c) => c.size === size)
const ofSizes = (...sizes: ReadonlyArray<number>) => (cells: ReadonlyArray<Cell>) =>
  cells.filter((c) => sizes.includes(c.size))

/**
 * The cells of the HAProxy target: 10 connections, 1 KiB and 100 KiB. HAProxy, the backend and the load
 * generator share 2 cores; at 10 connections the servers' core is the limit, and the backend's share of it
 * is large enough for its cost to show (bench/README.md, "Behind HAProxy").
 */
const HAPROXY_CELLS = (cells: ReadonlyArray<Cell>) =>
  cells.filter((c) => c.connections === 10 && (c.size === KiB || c.size === 100 * KiB))

/** The goals of the issues, in the order the results list them. */
export const GOALS: ReadonlyArray<Goal> = [
  // issue #7: our server as `pnpm start` starts it
  { server: OURS, metric: "requestsPerSecond", baseline: BASELINE, cells: ofSize(KiB), op: ">=", threshold: 0.95 },
  { server: OURS, metric: "mibPerSecond", baseline: BASELINE, cells: ofSize(100 * KiB), op: ">=", threshold: 0.95 },
  { server: OURS, metric: "p99", baseline: BASELINE, cells: every, op: "<=", threshold: 1.2 },
  { server: OURS, metric: "memory", baseline: BASELINE, op: "<=", threshold: 1.2 },
  { server: OURS, metric: "requestsPerSecond", baseline: "asyncio", cells: ofSize(KiB), op: ">=", threshold: 3 },
  // "Fast in anyone's program": the library in a user's program, and the server app, on plain node, no V8 flags
  { server: LIBRARY_COPY, metric: "requestsPerSecond", baseline: BASELINE, cells: every, op: ">=", threshold: 0.95 },
  { server: LIBRARY_COPY, metric: "p99", baseline: BASELINE, cells: every, op: "<=", threshold: 1.2 },
  { server: LIBRARY_COPY, metric: "cpuPerRequest", baseline: BASELINE, cells: every, op: "<=", threshold: 1.05 },
  { server: LIBRARY_STREAM, metric: "requestsPerSecond", baseline: BASELINE, cells: every, op: ">=", threshold: 0.9 },
  { server: LIBRARY_STREAM, metric: "p99", baseline: BASELINE, cells: every, op: "<=", threshold: 1.2 },
  ...[LIBRARY_COPY, LIBRARY_STREAM, OURS_NO_FLAGS].map((server): Goal => ({
    server,
    metric: "memory",
    baseline: BASELINE,
    op: "<=",
    threshold: 1.2
  })),
  // asyncio's reader API: 1 KiB frames read with `Reader` keep up with framing by hand on node:net (#16)
  {
    server: LIBRARY_FRAMED,
    metric: "requestsPerSecond",
    baseline: NODE_NET_FRAMED,
    cells: ofSize(KiB),
    op: ">=",
    threshold: 0.9
  },
  // TLS at node:tls speed (#17): the library's copyTo echo over TLS against a plain node:tls echo, same client
  {
    server: LIBRARY_TLS,
    metric: "requestsPerSecond",
    baseline: NODE_TLS,
    cells: ofSizes(KiB, 100 * KiB),
    op: ">=",
    threshold: 0.95
  },
  // behind HAProxy with the PROXY protocol (#18): the library reading `send-proxy-v2` against node:net behind the
  // same HAProxy with no header, where the backend's cost is not lost in HAProxy's (see bench/README.md)
  {
    server: HAPROXY_LIBRARY,
    metric: "requestsPerSecond",
    baseline: HAPROXY_NODE_NET,
    cells: HAPROXY_CELLS,
    op: ">=",
    threshold: 0.95
  },
  // ahead of Python's event loops (uvloop where installed)
  ...[LIBRARY_COPY, LIBRARY_STREAM].flatMap((server) =>
    ["asyncio", "uvloop"].map((baseline): Goal => ({
      server,
      metric: "requestsPerSecond",
      baseline,
      cells: every,
      op: ">=",
      threshold: 1
    }))
  )
]

/**
 * The targets of a run, each goal checked in every cell it names. Given the run's servers, only the
 * goals of servers it was asked to run (one that failed to start is "not measured") against baselines
 * that ran (a peer that is not installed names no target).
 */
export const targetsFor = (
  cells: ReadonlyArray<Cell>,
  servers?: ReadonlyArray<ServerInfo>
): ReadonlyArray<Target> =>
  GOALS.filter((goal) =>
    servers === undefined ||
    (servers.some((s) => s.id === goal.server) &&
      servers.some((s) => s.id === goal.baseline && s.skipped === undefined))
  ).flatMap(({ cells: pick, ...goal }): ReadonlyArray<Target> =>
    pick === undefined ? [goal] : pick(cells).map((cell) => ({ ...goal, cell }))
  )

export const evaluateTarget = (results: BenchResults, target: Target): TargetResult => {
  const r = ratioTo(results, target.server, target.metric, target.cell, target.baseline)
  const pass = r !== undefined && (target.op === ">=" ? r >= target.threshold : r <= target.threshold)
  return { target, ratio: r, pass }
}

export const evaluateTargets = (results: BenchResults): ReadonlyArray<TargetResult> =>
  targetsFor(results.cells, results.servers).map((target) => evaluateTarget(results, target))

/** The median of the rounds by requests/s (the lower middle one for an even count). */
export const medianRound = <A>(rounds: ReadonlyArray<A>, key: (a: A) => number): A => {
  if (rounds.length === 0) throw new Error("medianRound: no rounds")
  const sorted = rounds.toSorted((a, b) => key(a) - key(b))
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}
