/**
 * The results as an SVG bar chart, drawn by hand (no dependency): three panels of
 * ratios to plain node:net, each with the line at 1× and the target our server must reach.
 */
import { formatCell } from "./markdown.ts"
import {
  BASELINE,
  type BenchResults,
  HAPROXY_LIBRARY,
  HAPROXY_NODE_NET,
  LIBRARY_COPY,
  LIBRARY_STREAM,
  type Metric,
  NODE_NET_EFFECT,
  OURS,
  OURS_NO_FLAGS,
  ratioTo
} from "./results.ts"

const WIDTH = 960
const LEFT = 56
const RIGHT = 16
const PANEL_HEIGHT = 230
const PLOT_TOP = 34
const PLOT_BOTTOM = 40

const COLORS: Record<string, string> = {
  [OURS]: "#2563eb",
  [OURS_NO_FLAGS]: "#93c5fd",
  [LIBRARY_COPY]: "#db2777",
  [LIBRARY_STREAM]: "#f9a8d4",
  [NODE_NET_EFFECT]: "#6b7280",
  [HAPROXY_NODE_NET]: "#a3a3a3",
  [HAPROXY_LIBRARY]: "#9d174d",
  "effect-socket-server": "#7c3aed",
  asyncio: "#059669",
  uvloop: "#d97706"
}
const FALLBACK_COLORS = ["#0891b2", "#65a30d", "#b45309"]
/** legend entries per row, each this wide */
const LEGEND_PER_ROW = 4
const LEGEND_WIDTH = 220

export const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** The top of the y axis: the largest value with some headroom, rounded up to a step. */
export const axisMax = (values: ReadonlyArray<number>): number => {
  const max = Math.max(1, ...values.filter(Number.isFinite)) * 1.12
  const step = tickStep(max)
  return Math.ceil(max / step) * step
}

export const tickStep = (max: number): number => max <= 1.5 ? 0.25 : max <= 4 ? 0.5 : max <= 10 ? 1 : 5

interface Group {
  readonly label: string
  readonly bars: ReadonlyArray<{ readonly server: string; readonly value: number | undefined }>
}

interface Panel {
  readonly title: string
  /** the ratio our server must reach, drawn as a dashed red line */
  readonly target?: number
  readonly groups: ReadonlyArray<Group>
}

const fmt = (n: number) => Number(n.toFixed(1)).toString()

const renderPanel = (panel: Panel, top: number, colorOf: (server: string) => string): string => {
  const plotTop = top + PLOT_TOP
  const plotHeight = PANEL_HEIGHT - PLOT_TOP - PLOT_BOTTOM
  const plotWidth = WIDTH - LEFT - RIGHT
  const values = panel.groups.flatMap((g) => g.bars.map((b) => b.value ?? 0))
  const max = axisMax(panel.target === undefined ? values : [...values, panel.target])
  const y = (v: number) => plotTop + plotHeight - (Math.min(v, max) / max) * plotHeight
  const out: Array<string> = []
  out.push(`<text x="${LEFT}" y="${top + 20}" class="title">${escapeXml(panel.title)}</text>`)
  const step = tickStep(max)
  for (let v = 0; v <= max + 1e-9; v += step) {
    out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${fmt(y(v))}" y2="${fmt(y(v))}" class="grid"/>`)
    out.push(`<text x="${LEFT - 6}" y="${fmt(y(v) + 4)}" class="tick">${Number(v.toFixed(2))}×</text>`)
  }
  const groupWidth = plotWidth / panel.groups.length
  panel.groups.forEach((group, gi) => {
    const x0 = LEFT + gi * groupWidth
    const barWidth = Math.min(36, (groupWidth * 0.8) / Math.max(1, group.bars.length))
    const start = x0 + (groupWidth - barWidth * group.bars.length) / 2
    group.bars.forEach((bar, bi) => {
      const x = start + bi * barWidth
      if (bar.value === undefined) return
      const barTop = y(bar.value)
      out.push(
        `<rect x="${fmt(x + 1)}" y="${fmt(barTop)}" width="${fmt(barWidth - 2)}" height="${
          fmt(plotTop + plotHeight - barTop)
        }" fill="${colorOf(bar.server)}"><title>${escapeXml(`${bar.server}: ${bar.value.toFixed(2)}×`)}</title></rect>`
      )
      out.push(
        `<text x="${fmt(x + barWidth / 2)}" y="${fmt(barTop - 3)}" class="value">${bar.value > max ? "▲" : ""}${
          bar.value.toFixed(2)
        }</text>`
      )
    })
    out.push(
      `<text x="${fmt(x0 + groupWidth / 2)}" y="${plotTop + plotHeight + 16}" class="group">${
        escapeXml(group.label)
      }</text>`
    )
  })
  out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${fmt(y(1))}" y2="${fmt(y(1))}" class="one"/>`)
  if (panel.target !== undefined) {
    const t = fmt(y(panel.target))
    out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${t}" y2="${t}" class="target"/>`)
    out.push(
      `<text x="${WIDTH - RIGHT}" y="${
        fmt(y(panel.target) - 4)
      }" class="target-label">our target ${panel.target}×</text>`
    )
  }
  return out.join("\n")
}

/** The whole chart as an SVG document. */
export const renderChart = (results: BenchResults): string => {
  const servers = results.servers.filter((s) => s.skipped === undefined && s.id !== BASELINE)
  const colorOf = (server: string) =>
    COLORS[server] ?? FALLBACK_COLORS[servers.findIndex((s) => s.id === server) % FALLBACK_COLORS.length]!
  const loadGroups = (metric: Metric): ReadonlyArray<Group> =>
    results.cells.map((cell) => ({
      label: formatCell(cell),
      bars: servers.map((s) => ({ server: s.id, value: ratioTo(results, s.id, metric, cell) }))
    }))
  const panels: ReadonlyArray<Panel> = [
    {
      title: "requests/s (= MiB/s) ÷ node:net — higher is better",
      target: 0.95,
      groups: loadGroups("requestsPerSecond")
    },
    { title: "p99 latency ÷ node:net — lower is better", target: 1.2, groups: loadGroups("p99") },
    {
      title:
        "server CPU time per request ÷ node:net — lower is better (what a client-bound run hides; library copyTo ≤ 1.05×)",
      target: 1.05,
      groups: loadGroups("cpuPerRequest")
    },
    {
      title: `memory per idle connection (${results.run.config.idleConnections} conns) ÷ node:net — lower is better`,
      target: 1.2,
      groups: [{
        label: "RSS per connection",
        bars: servers.map((s) => ({ server: s.id, value: ratioTo(results, s.id, "memory") }))
      }]
    }
  ]
  const legendTop = 8
  const legend = servers.map((s, i) => {
    const x = LEFT + (i % LEGEND_PER_ROW) * LEGEND_WIDTH
    const y = legendTop + 14 + Math.floor(i / LEGEND_PER_ROW) * 18
    return `<rect x="${x}" y="${y}" width="12" height="12" fill="${colorOf(s.id)}"/>` +
      `<text x="${x + 18}" y="${y + 10}" class="legend">${escapeXml(s.label)}</text>`
  })
  const headerHeight = 30 + Math.max(1, Math.ceil(servers.length / LEGEND_PER_ROW)) * 18
  const height = headerHeight + panels.length * PANEL_HEIGHT
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">`,
    "<style>",
    ".title{font-size:14px;font-weight:600;fill:#111}",
    ".tick{font-size:11px;fill:#555;text-anchor:end}",
    ".group{font-size:11px;fill:#333;text-anchor:middle}",
    ".value{font-size:9px;fill:#333;text-anchor:middle}",
    ".legend{font-size:12px;fill:#111}",
    ".grid{stroke:#e5e7eb;stroke-width:1}",
    ".one{stroke:#6b7280;stroke-width:1.5}",
    ".target{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:6 4}",
    ".target-label{font-size:11px;fill:#dc2626;text-anchor:end}",
    "</style>",
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="${legendTop + 6}" class="legend">Echo servers vs plain node:net (= 1×, grey line), ${
      escapeXml(results.run.date)
    } (${results.run.mode})</text>`,
    ...legend,
    ...panels.map((panel, i) => renderPanel(panel, headerHeight + i * PANEL_HEIGHT, colorOf)),
    "</svg>",
    ""
  ].join("\n")
}
