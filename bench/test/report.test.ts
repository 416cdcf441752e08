import { assert, describe, it } from "@effect/vitest"
import { axisMax, escapeXml, renderChart } from "../src/chart.ts"
import { config } from "../src/haproxy.ts"
import { clientCheckTable, formatCount, formatSize, loadTable, memoryTable, renderMarkdown } from "../src/markdown.ts"
import { findCores, pinned } from "../src/processes.ts"
import { categoryOf, type CpuProfile, shortUrl, summarizeProfile } from "../src/profile.ts"
import {
  type BenchResults,
  type Cell,
  CELLS,
  chooseClient,
  type ClientCheck,
  evaluateTargets,
  kibPerConnection,
  type LoadResult,
  medianRound,
  ratio,
  ratioTo,
  targetsFor,
  worstClientRatio
} from "../src/results.ts"
import { type LoadSummary, parseSummary } from "../src/summary.ts"

const summary = (cell: Cell, requestsPerSecond: number, p99: number): LoadSummary => ({
  connections: cell.connections,
  size: cell.size,
  durationSeconds: 5,
  requests: requestsPerSecond * 5,
  bytes: requestsPerSecond * 5 * cell.size,
  requestsPerSecond,
  mibPerSecond: (requestsPerSecond * cell.size) / 2 ** 20,
  latencyMicros: { min: 10, p50: p99 / 4, p90: p99 / 2, p99, p999: p99 * 2, max: p99 * 4 },
  errors: {}
})

const load = (server: string, cell: Cell, rps: number, p99: number, cpuMicros?: number): LoadResult => ({
  server,
  cell,
  summary: summary(cell, rps, p99),
  ...(cpuMicros === undefined ? {} : { serverCpu: { seconds: (rps * 5 * cpuMicros) / 1e6, windowSeconds: 5 } }),
  rounds: [rps]
})

// ours: exactly 0.95× node:net's requests/s and 1.2× its p99 everywhere; asyncio a third of ours
const results: BenchResults = {
  run: {
    date: "2026-01-02",
    mode: "quick",
    profiled: false,
    machine: { cpu: "Test CPU", cores: 2, memoryGiB: 24, kernel: "Linux 6", node: "v24.21.0", python: "python 3.11" },
    load: { before: [0.5, 0.4, 0.3], after: [1.5, 0.9, 0.5] },
    config: {
      durationSeconds: 5,
      warmupSeconds: 1,
      workers: 2,
      workersCalibration: [{ workers: 1, requestsPerSecond: 40_000 }, { workers: 2, requestsPerSecond: 60_000 }],
      rounds: 1,
      idleConnections: 1000
    },
    loadGenerator: { client: "ours", why: "our client drives node:net to 0.90× the raw client's", check: [] },
    pinning: { server: "0", client: "1" },
    elapsedSeconds: 42
  },
  servers: [
    { id: "node-net", label: "node:net", description: "baseline" },
    { id: "ours", label: "ours", description: "ours" },
    { id: "asyncio", label: "asyncio streams", description: "python" },
    { id: "uvloop", label: "uvloop streams", description: "python", skipped: "uvloop is not installed" }
  ],
  cells: CELLS,
  loads: CELLS.flatMap((cell) => [
    load("node-net", cell, 100_000, 1000, 8),
    load("ours", cell, 95_000, 1200, 10),
    load("asyncio", cell, 95_000 / 3, 3000)
  ]),
  memory: [
    { server: "node-net", connections: 1000, rssBeforeKiB: 50_000, rssAfterKiB: 54_000 },
    { server: "ours", connections: 1000, rssBeforeKiB: 80_000, rssAfterKiB: 86_000 }
  ]
}

describe("parseSummary", () => {
  const line = JSON.stringify(summary({ size: 1024, connections: 10 }, 1000, 500))

  it("reads the last JSON line of stdout", () => {
    const parsed = parseSummary(`warming up\n{"not": "this"}\n${line}\n`)
    assert.strictEqual(parsed.requestsPerSecond, 1000)
    assert.strictEqual(parsed.latencyMicros.p99, 500)
  })

  it("says what is missing", () => {
    assert.throws(() => parseSummary("no json here"), /no JSON summary/)
    assert.throws(() => parseSummary("{oops"), /not valid JSON/)
    assert.throws(() => parseSummary(JSON.stringify({ ...JSON.parse(line), mibPerSecond: "fast" })), /mibPerSecond/)
    assert.throws(
      () => parseSummary(JSON.stringify({ ...JSON.parse(line), latencyMicros: { p50: 1 } })),
      /latencyMicros\.min/
    )
    assert.throws(() => parseSummary(JSON.stringify({ ...JSON.parse(line), errors: { x: "y" } })), /errors/)
  })
})

describe("ratios and targets", () => {
  it("divides by the baseline, and knows when it cannot", () => {
    assert.strictEqual(ratio(3, 2), 1.5)
    assert.strictEqual(ratio(undefined, 2), undefined)
    assert.strictEqual(ratio(3, 0), undefined)
    assert.closeTo(ratioTo(results, "ours", "requestsPerSecond", CELLS[0])!, 0.95, 1e-9)
    assert.closeTo(ratioTo(results, "ours", "mibPerSecond", CELLS[5])!, 0.95, 1e-9)
    assert.closeTo(ratioTo(results, "ours", "p99", CELLS[2])!, 1.2, 1e-9)
    assert.closeTo(ratioTo(results, "ours", "memory")!, 1.5, 1e-9)
    assert.strictEqual(ratioTo(results, "uvloop", "requestsPerSecond", CELLS[0]), undefined)
    assert.closeTo(ratioTo(results, "ours", "cpuPerRequest", CELLS[3])!, 1.25, 1e-9)
    assert.strictEqual(ratioTo(results, "asyncio", "cpuPerRequest", CELLS[3]), undefined)
  })

  it("memory is RSS growth per connection", () => {
    assert.strictEqual(kibPerConnection(results.memory[0]!), 4)
  })

  it("names every target of the issue", () => {
    const targets = targetsFor(CELLS)
    const of = (server: string) => targets.filter((t) => t.server === server)
    // ours: 2 × req/s at 1 KiB, 2 × MiB/s at 100 KiB, 6 × p99, memory, 2 × vs asyncio
    assert.strictEqual(of("ours").length, 13)
    assert.strictEqual(of("ours").filter((t) => t.baseline === "asyncio").length, 2)
    // library copyTo: 6 × req/s, p99 and CPU per request, memory, 6 × ahead of asyncio and of uvloop
    assert.strictEqual(of("library-copy").length, 31)
    // library stream: 6 × req/s and p99, memory, 6 × ahead of asyncio and of uvloop
    assert.strictEqual(of("library-stream").length, 25)
    assert.deepStrictEqual(of("ours-no-flags").map((t) => t.metric), ["memory"])
    // library framed (#16): requests/s against the framing by hand on node:net, in the two 1 KiB cells
    assert.deepStrictEqual(
      of("library-framed").map((t) => [t.baseline, t.cell?.size]),
      [["node-net-framed", 1024], ["node-net-framed", 1024]]
    )
    // library TLS (#17): requests/s against plain node:tls, at 1 KiB and 100 KiB
    assert.deepStrictEqual(
      of("library-tls").map((t) => [t.metric, t.baseline, t.cell?.size, t.op, t.threshold]),
      [1024, 1024, 102400, 102400].map((size) => ["requestsPerSecond", "node-tls", size, ">=", 0.95])
    )
    // behind HAProxy (#18): the library reading PROXY v2 against node:net behind the same HAProxy, 10 conns
    assert.deepStrictEqual(
      of("haproxy-library").map((t) => [t.metric, t.baseline, t.cell?.size, t.cell?.connections, t.threshold]),
      [1024, 102400].map((size) => ["requestsPerSecond", "haproxy-node-net", size, 10, 0.95])
    )
    assert.strictEqual(targets.length, 13 + 31 + 25 + 1 + 2 + 4 + 2)
  })

  it("passes at exactly the threshold, fails beyond it", () => {
    const evaluated = evaluateTargets(results)
    const failed = evaluated.filter((t) => !t.pass).map((t) => t.target.metric)
    assert.deepStrictEqual(failed, ["memory"])
  })

  it("takes the median round", () => {
    assert.strictEqual(medianRound([3, 1, 2], (x) => x), 2)
    assert.strictEqual(medianRound([4, 1, 3, 2], (x) => x), 2)
    assert.throws(() => medianRound([], (x: number) => x))
  })
})

describe("markdown", () => {
  it("formats sizes and counts", () => {
    assert.strictEqual(formatSize(1024), "1 KiB")
    assert.strictEqual(formatSize(100 * 1024), "100 KiB")
    assert.strictEqual(formatSize(1000), "1000 B")
    assert.strictEqual(formatCount(148_912.3), "148.9k")
    assert.strictEqual(formatCount(812.4), "812")
  })

  it("renders the load table with ratios, skipping servers that did not run", () => {
    const table = loadTable(results)
    const rows = table.split("\n")
    assert.strictEqual(rows.length, 2 + CELLS.length * 3)
    assert.include(table, "| 1 KiB | 10 | ours | 95.0k | 0.95× |")
    // server CPU: 95k req/s × 10 µs = 95 % of a core, 1.25× node:net's 8 µs; unknown for asyncio
    assert.include(table, "| 95 % | 10.0 | 1.25× | — | 0 |")
    assert.include(table, "| — | — | — | — | 0 |")
    assert.notInclude(table, "uvloop")
  })

  it("renders the memory table", () => {
    assert.include(memoryTable(results), "| ours | 78.1 MiB | 84.0 MiB | 6.00 | 1.50× |")
  })

  it("renders the page: pass/fail, skipped peers, the chart", () => {
    const page = renderMarkdown(results, "2026-01-02-quick.svg")
    assert.include(page, "## Targets: 12 of 13 pass")
    assert.include(
      page,
      "2 worker process(es) (calibrated: node:net, 1 KiB × 100 conns: 1 → 40.0k req/s, 2 → 60.0k req/s)"
    )
    assert.include(page, "- ours: 12 of 13 pass")
    assert.include(
      page,
      "| ours | memory per idle connection | node:net | 1000 idle conns | 1.50× | ≤ 1.2× | ❌ FAIL |"
    )
    assert.include(page, "| ours | requests/s | asyncio streams | 1 KiB × 10 conns | 3.00× | ≥ 3× | ✅ pass |")
    assert.include(page, "- load generator: our client drives node:net to 0.90× the raw client's")
    assert.include(page, "- cores: servers on core 0, load generators on core 1 (`taskset -c`)")
    assert.include(page, "## Load: closed loop, one message in flight per connection (apps/client bench)")
    assert.notInclude(page, "## Load generator check")
    assert.include(page, "skipped uvloop streams: uvloop is not installed")
    assert.include(page, "![ratios to node:net](./2026-01-02-quick.svg)")
  })
})

describe("chart", () => {
  const svg = renderChart(results)

  it("is one SVG document with a bar per server, cell and panel", () => {
    assert.isTrue(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    assert.isTrue(svg.trimEnd().endsWith("</svg>"))
    const bars = svg.match(/<rect [^>]*><title>/g) ?? []
    // two servers besides the baseline: 6 cells × 2 panels, ours' CPU per request, memory (asyncio has none)
    assert.strictEqual(bars.length, 6 * 2 * 2 + 6 + 1)
    assert.include(svg, "our target 0.95×")
    assert.include(svg, "our target 1.2×")
    assert.notInclude(svg, "uvloop")
  })

  it("has balanced tags and escaped text", () => {
    const opened = (svg.match(/<(rect|text|line|svg|style|title)\b(?:[^>]*[^/])?>/g) ?? []).length
    const closed = (svg.match(/<\/(rect|text|line|svg|style|title)>/g) ?? []).length
    assert.strictEqual(opened, closed)
    assert.strictEqual(escapeXml("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;")
  })

  it("scales the axis to the largest value with headroom", () => {
    assert.strictEqual(axisMax([0.5]), 1.25)
    assert.strictEqual(axisMax([3]), 3.5)
    assert.strictEqual(axisMax([12]), 15)
  })
})

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9, columnNumber: 0 })

describe("profile", () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame("(root)", "") },
      { id: 2, callFrame: frame("(idle)", "") },
      { id: 3, callFrame: frame("pull", "file:///repo/packages/socket/src/internal/node.ts") },
      { id: 4, callFrame: frame("runLoop", "file:///repo/node_modules/.pnpm/x/node_modules/effect/dist/a.js") },
      { id: 5, callFrame: frame("writeGeneric", "node:internal/stream_base_commons") }
    ],
    startTime: 0,
    endTime: 1000,
    samples: [2, 3, 4, 4, 5, 2],
    timeDeltas: [0, 100, 100, 100, 100, 100]
  }

  it("sums self time per function and per code base, idle apart", () => {
    const s = summarizeProfile(profile)
    assert.strictEqual(s.totalMs, 0.5)
    assert.strictEqual(s.idleMs, 0.1)
    assert.strictEqual(s.functions[0]!.name, "runLoop effect/dist/a.js:10")
    assert.closeTo(s.functions[0]!.percent, 50, 1e-9)
    assert.deepStrictEqual(s.categories.map((c) => c.name), ["effect", "packages/socket", "node internals"])
  })

  it("shortens urls and names code bases", () => {
    assert.strictEqual(shortUrl("file:///w/main/apps/server/src/main.ts"), "apps/server/src/main.ts")
    assert.strictEqual(categoryOf(frame("(garbage collector)", "")), "garbage collector")
    assert.strictEqual(
      categoryOf(frame("x", "file:///w/node_modules/.pnpm/p/node_modules/@effect/platform-node-shared/src/a.ts")),
      "@effect/platform-node"
    )
    assert.strictEqual(
      categoryOf(frame("x", "file:///w/node_modules/.pnpm/r/node_modules/@redis/client/a.js")),
      "@redis/client"
    )
    assert.strictEqual(categoryOf(frame("x", "file:///w/main/packages/socket/src/Tcp.ts")), "packages/socket")
  })
})

// The library and the server app on plain node: library copyTo at 0.96× node:net's requests/s but 1.10× its
// CPU per request; library stream at 0.89× (below its 0.90×) with 1.3× the p99; uvloop not installed.
const plainNode: BenchResults = {
  ...results,
  servers: [
    { id: "node-net", label: "node:net", description: "baseline" },
    { id: "library-copy", label: "library copyTo", description: "copyTo" },
    { id: "library-stream", label: "library stream", description: "stream to sink" },
    { id: "ours-no-flags", label: "ours, no flags", description: "the app on plain node" },
    { id: "asyncio", label: "asyncio streams", description: "python" },
    { id: "uvloop", label: "uvloop streams", description: "python", skipped: "uvloop is not installed" }
  ],
  loads: CELLS.flatMap((cell) => [
    load("node-net", cell, 100_000, 1000, 8),
    load("library-copy", cell, 96_000, 1100, 8.8),
    load("library-stream", cell, 89_000, 1300, 9),
    load("asyncio", cell, 50_000, 3000)
  ]),
  memory: [
    { server: "node-net", connections: 1000, rssBeforeKiB: 50_000, rssAfterKiB: 54_000 },
    { server: "library-copy", connections: 1000, rssBeforeKiB: 60_000, rssAfterKiB: 64_400 },
    { server: "library-stream", connections: 1000, rssBeforeKiB: 60_000, rssAfterKiB: 65_000 },
    { server: "ours-no-flags", connections: 1000, rssBeforeKiB: 60_000, rssAfterKiB: 64_800 }
  ]
}

const passes = (rs: ReadonlyArray<{ readonly pass: boolean }>) => rs.map((r) => r.pass)

const check = (ours: number, raw: number): ClientCheck => ({ cell: CELLS[1]!, ours, raw })

/** A copy of `plainNode` with one server's requests/s in every cell set to `rps`. */
const withRate = (server: string, rps: number): BenchResults => ({
  ...plainNode,
  loads: plainNode.loads.map((l) => l.server === server ? load(server, l.cell, rps, 1100, 8) : l)
})

describe("the library and the server app on plain node", () => {
  const evaluated = evaluateTargets(plainNode)
  const of = (server: string, metric?: string, baseline = "node-net") =>
    evaluated.filter((t) =>
      t.target.server === server && t.target.baseline === baseline &&
      (metric === undefined || t.target.metric === metric)
    )

  it("checks only the servers the run was asked for, against peers that ran (no uvloop here)", () => {
    assert.deepStrictEqual(
      [...new Set(evaluated.map((t) => t.target.server))],
      ["library-copy", "library-stream", "ours-no-flags"]
    )
    assert.isFalse(evaluated.some((t) => t.target.baseline === "uvloop"))
    // with uvloop installed, both library cells must be ahead of it in every cell too
    const withUvloop = targetsFor(CELLS, [...plainNode.servers.slice(0, 5), {
      id: "uvloop",
      label: "",
      description: ""
    }])
    assert.strictEqual(withUvloop.filter((t) => t.baseline === "uvloop").length, 12)
  })

  it("library copyTo: requests/s at least 0.95× in every cell, CPU per request at most 1.05×", () => {
    assert.deepStrictEqual(passes(of("library-copy", "requestsPerSecond")), Array(6).fill(true))
    assert.deepStrictEqual(passes(of("library-copy", "p99")), Array(6).fill(true))
    assert.deepStrictEqual(passes(of("library-copy", "cpuPerRequest")), Array(6).fill(false))
    assert.closeTo(of("library-copy", "cpuPerRequest")[0]!.ratio!, 1.1, 1e-9)
    const below = evaluateTargets(withRate("library-copy", 94_000))
      .filter((t) => t.target.server === "library-copy" && t.target.metric === "requestsPerSecond")
    assert.deepStrictEqual(passes(below.filter((t) => t.target.baseline === "node-net")), Array(6).fill(false))
  })

  it("library stream: requests/s at least 0.90×, fails below and passes at it", () => {
    assert.deepStrictEqual(passes(of("library-stream", "requestsPerSecond")), Array(6).fill(false))
    assert.deepStrictEqual(passes(of("library-stream", "p99")), Array(6).fill(false))
    const at = evaluateTargets(withRate("library-stream", 90_000))
      .filter((t) => t.target.server === "library-stream" && t.target.metric === "requestsPerSecond")
    assert.deepStrictEqual(passes(at), Array(12).fill(true))
  })

  it("ahead of asyncio: requests/s at least 1× asyncio's in every cell", () => {
    assert.deepStrictEqual(passes(of("library-copy", "requestsPerSecond", "asyncio")), Array(6).fill(true))
    const behind = evaluateTargets(withRate("library-copy", 49_000))
      .filter((t) => t.target.server === "library-copy" && t.target.baseline === "asyncio")
    assert.deepStrictEqual(passes(behind), Array(6).fill(false))
  })

  it("memory per idle connection at most 1.2× node:net for the library and the server app", () => {
    assert.deepStrictEqual(
      evaluated.filter((t) => t.target.metric === "memory").map((t) => [t.target.server, t.pass]),
      [["library-copy", true], ["library-stream", false], ["ours-no-flags", true]]
    )
  })

  it("a server asked for that did not run fails as not measured", () => {
    const failed = evaluateTargets({
      ...plainNode,
      servers: [...plainNode.servers, { id: "ours", label: "ours", description: "", skipped: "failed to start" }]
    }).filter((t) => t.target.server === "ours")
    assert.isTrue(failed.length > 0 && failed.every((t) => !t.pass && t.ratio === undefined))
  })

  it("renders the page with a line per server", () => {
    const page = renderMarkdown(plainNode, "x.svg")
    assert.include(page, "- library copyTo: 19 of 25 pass")
    assert.include(page, "- library stream: 6 of 19 pass")
    assert.include(page, "- ours, no flags: 1 of 1 pass")
    assert.include(page, "## Targets: 26 of 45 pass")
    assert.include(
      page,
      "| library copyTo | server CPU time per request | node:net | 1 KiB × 10 conns | 1.10× | ≤ 1.05× | ❌ FAIL |"
    )
    assert.include(page, "| library stream | requests/s | node:net | 100 KiB × 100 conns | 0.89× | ≥ 0.9× | ❌ FAIL |")
  })
})

describe("behind HAProxy", () => {
  const cells = [CELLS[0]!, CELLS[4]!]
  const behind = (server: string, rps: number): Array<LoadResult> =>
    cells.map((cell) => ({
      ...load(server, cell, rps, 1000, 15),
      balancerCpu: { seconds: 2.5, windowSeconds: 5 }
    }))
  const run = (libraryRps: number): BenchResults => ({
    ...results,
    servers: [
      { id: "node-net", label: "node:net", description: "" },
      { id: "haproxy-node-net", label: "HAProxy → node:net", description: "" },
      { id: "haproxy-library", label: "HAProxy v2 → library", description: "" }
    ],
    loads: [
      ...cells.map((cell) => load("node-net", cell, 60_000, 1000, 8)),
      ...behind("haproxy-node-net", 30_000),
      ...behind("haproxy-library", libraryRps)
    ],
    memory: []
  })

  const targets = (rps: number) => evaluateTargets(run(rps)).filter((t) => t.target.server === "haproxy-library")

  it("the library reading PROXY v2 keeps 0.95× of node:net's requests/s behind the same HAProxy", () => {
    assert.deepStrictEqual(passes(targets(28_500)), [true, true])
    assert.deepStrictEqual(passes(targets(28_400)), [false, false])
    assert.closeTo(targets(28_500)[0]!.ratio!, 0.95, 1e-9)
  })

  it("shows HAProxy's CPU share beside the backend's, on the core they share", () => {
    assert.include(loadTable(run(30_000)), "| HAProxy v2 → library | 30.0k | 0.50× |")
    assert.include(loadTable(run(30_000)), "| 45 % + HAProxy 50 % | 15.0 |")
  })

  it("both share one HAProxy config but for send-proxy-v2", () => {
    const plain = config({ port: 8000, backendPort: 9000, sendProxyV2: false })
    const v2 = config({ port: 8000, backendPort: 9000, sendProxyV2: true })
    assert.include(plain, "  bind 127.0.0.1:8000\n")
    assert.include(plain, "  server peer 127.0.0.1:9000\n")
    assert.include(plain, "  nbthread 1\n")
    assert.strictEqual(v2, plain.replace("127.0.0.1:9000", "127.0.0.1:9000 send-proxy-v2"))
  })
})

describe("the load generator", () => {
  it("keeps our client when it drives node:net to at least 0.8× the raw client everywhere", () => {
    assert.strictEqual(chooseClient([check(80, 100), check(95, 100)]), "ours")
    assert.strictEqual(chooseClient([check(79, 100), check(95, 100)]), "raw")
    assert.strictEqual(chooseClient([]), "raw")
    assert.closeTo(worstClientRatio([check(90, 100), check(50, 100)])!, 0.5, 1e-9)
  })

  it("shows the check and says which client ran the cells", () => {
    assert.include(clientCheckTable([check(50_000, 100_000)]), "| 1 KiB | 100 | 50.0k | 100.0k | 0.50× | no |")
    const page = renderMarkdown({
      ...results,
      run: {
        ...results.run,
        loadGenerator: { client: "raw", why: "below 0.8×", check: [check(50_000, 100_000)] },
        pinning: { note: "not pinned: `taskset` (util-linux) is not installed" }
      }
    }, "x.svg")
    assert.include(page, "- load: the raw node:net client (`bench/src/raw-client.ts`, one process)")
    assert.include(page, "## Load generator check: plain node:net driven by each client")
    assert.include(page, "## Load: closed loop, one message in flight per connection (raw node:net client)")
    assert.include(page, "- cores: not pinned: `taskset` (util-linux) is not installed")
  })

  it("shows the client's CPU share where it was measured: near 100 % it sets the pace", () => {
    const busy: BenchResults = {
      ...results,
      loads: results.loads.map((l) => ({ ...l, clientCpu: { seconds: 4.9, windowSeconds: 5 } }))
    }
    assert.include(loadTable(busy), "| 95 % | 10.0 | 1.25× | 98 % | 0 |")
  })

  it("pins with taskset where it can, and says why not where it cannot", () => {
    assert.deepStrictEqual(pinned("1", ["node", ["a.ts", "0"]]), ["taskset", ["-c", "1", "node", "a.ts", "0"]])
    assert.deepStrictEqual(pinned(undefined, ["node", ["a.ts"]]), ["node", ["a.ts"]])
    assert.include((findCores(1) as { note: string }).note, "1 core(s)")
  })
})
