/**
 * Where a server's time goes: self time per function in a V8 `.cpuprofile`
 * (written by `node --cpu-prof`), and per code base (node internals, effect, ours...).
 */

export interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

export interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly hitCount?: number
}

export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples?: ReadonlyArray<number>
  readonly timeDeltas?: ReadonlyArray<number>
}

export interface Entry {
  readonly name: string
  readonly selfMs: number
  /** share of the busy (non-idle) time */
  readonly percent: number
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly idleMs: number
  readonly busyMs: number
  readonly functions: ReadonlyArray<Entry>
  readonly categories: ReadonlyArray<Entry>
}

/** The part of a script URL worth showing: from the package or workspace folder on. */
export const shortUrl = (url: string): string => {
  if (url === "") return ""
  const path = url.replace(/^file:\/\//, "")
  const nodeModules = path.lastIndexOf("/node_modules/")
  if (nodeModules >= 0) return path.slice(nodeModules + "/node_modules/".length)
  const workspace = path.match(/\/(packages|apps|bench)\/.*$/)
  return workspace !== null ? workspace[0].slice(1) : path
}

/** Which code base a frame belongs to, so the owners know whose code to look at. */
export const categoryOf = (frame: CallFrame): string => {
  const { functionName, url } = frame
  if (url === "") {
    if (functionName === "(garbage collector)") return "garbage collector"
    if (functionName === "(idle)") return "idle"
    if (functionName === "(program)") return "V8/native (program)"
    return "native"
  }
  if (url.startsWith("node:")) return "node internals"
  if (url.startsWith("wasm:")) return "wasm"
  const nodeModules = url.lastIndexOf("/node_modules/")
  if (nodeModules >= 0) {
    const [scope, name] = url.slice(nodeModules + "/node_modules/".length).split("/")
    const pkg = scope?.startsWith("@") ? `${scope}/${name}` : scope ?? "?"
    return pkg.startsWith("@effect/platform-node") ? "@effect/platform-node" : pkg
  }
  const match = url.match(/\/(packages\/[^/]+|apps\/[^/]+|bench)\//)
  if (match !== null) return match[1]!
  return "other"
}

const frameName = (frame: CallFrame): string => {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName
  return frame.url === "" ? name : `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`
}

/** Self time of every function (by name and place) and of every category, largest first. */
export const summarizeProfile = (profile: CpuProfile, top = 20): ProfileSummary => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  if (samples.length > 0) {
    // the time up to the next sample belongs to this one
    for (let i = 0; i < samples.length; i++) {
      const dt = deltas[i + 1] ?? 0
      selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, dt))
    }
  } else {
    const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0)
    const interval = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0
    for (const node of profile.nodes) selfUs.set(node.id, (node.hitCount ?? 0) * interval)
  }
  const functions = new Map<string, number>()
  const categories = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined) continue
    total += us
    const category = categoryOf(node.callFrame)
    if (category === "idle") {
      idle += us
      continue
    }
    const name = frameName(node.callFrame)
    functions.set(name, (functions.get(name) ?? 0) + us)
    categories.set(category, (categories.get(category) ?? 0) + us)
  }
  const busy = total - idle
  const entries = (map: Map<string, number>, n: number): ReadonlyArray<Entry> =>
    [...map.entries()]
      .toSorted((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, selfMs: us / 1000, percent: busy > 0 ? (100 * us) / busy : 0 }))
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    busyMs: busy / 1000,
    functions: entries(functions, top),
    categories: entries(categories, Infinity)
  }
}

const row = (e: Entry) => `| ${e.name.replace(/\|/g, "\\|")} | ${e.selfMs.toFixed(0)} | ${e.percent.toFixed(1)}% |`

export const renderProfile = (title: string, summary: ProfileSummary): string => {
  return [
    `### ${title}`,
    "",
    `${(summary.busyMs / 1000).toFixed(1)} s busy of ${(summary.totalMs / 1000).toFixed(1)} s profiled.`,
    "",
    "| code base | self ms | of busy |",
    "| --- | --- | --- |",
    ...summary.categories.map(row),
    "",
    "| function (top self time) | self ms | of busy |",
    "| --- | --- | --- |",
    ...summary.functions.map(row),
    ""
  ].join("\n")
}
