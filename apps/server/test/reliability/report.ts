// The figures of the reliability suite: each scenario records its numbers and
// checks here; every test file flushes its results (afterAll) to the directory
// the suite's globalSetup provides, and the globalSetup's teardown writes the
// table to RELIABILITY.md. In the default `vitest run` nothing is provided and
// nothing is written (the repository stays clean).
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, inject } from "vitest"

declare module "vitest" {
  export interface ProvidedContext {
    /** Where each test file writes its results (set by globalSetup.ts). */
    reliabilityResults: string | undefined
  }
}

export interface Check {
  readonly name: string
  readonly ok: boolean
  /** A known bug the check shows (its test is `it.fails`): see RELIABILITY.md's findings. */
  readonly finding?: string | undefined
  /** A bug this check found that was since fixed: the commit. */
  readonly fixedIn?: string | undefined
}

export interface Result {
  readonly area: string
  readonly scenario: string
  readonly figures: Record<string, string | number>
  readonly checks: ReadonlyArray<Check>
  readonly durationMs: number
}

const results: Array<Result> = []

/** Records a scenario; returns its checks by name, for the test's assertions. */
export const record = (result: Result): Record<string, boolean> => {
  results.push(result)
  return Object.fromEntries(result.checks.map((check) => [check.name, check.ok]))
}

/** Call once per test file: writes what it recorded when the suite asks for a report (after `before`). */
export const flushAfterAll = (file: string, before?: () => void): void =>
  afterAll(() => {
    before?.()
    const dir = inject("reliabilityResults")
    if (dir === undefined || results.length === 0) return
    Fs.writeFileSync(Path.join(dir, `${file}.json`), JSON.stringify(results))
  })

const mib = 1024 * 1024

/** A byte count for the table. */
export const bytes = (n: number): string =>
  n >= mib ? `${(n / mib).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`

/** Counts by key, for "errors by tag". */
export const tally = (keys: Iterable<string>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const key of keys) out[key] = (out[key] ?? 0) + 1
  return out
}

/** `{ ConnectionResetError: 3 }` as `ConnectionResetError×3`, or `none`. */
export const formatTally = (counts: Record<string, number>): string => {
  const entries = Object.entries(counts)
  return entries.length === 0 ? "none" : entries.map(([key, n]) => `${key}×${n}`).join(", ")
}

const escape = (text: string): string => text.replaceAll("|", "\\|").replaceAll("\n", " ")

/** A table row of RELIABILITY.md as written, with its area and whether it passed. */
interface Row {
  readonly area: string
  readonly line: string
  readonly pass: boolean
}

const rowOf = (result: Result): Row => {
  const figures = Object.entries(result.figures).map(([key, value]) => `${key}: ${value}`).join("; ")
  const checks = result.checks.map((check) =>
    `${check.ok ? "✔" : "✘"} ${check.name}${
      check.fixedIn === undefined ? "" : ` (found here, fixed in ${check.fixedIn})`
    }`
  ).join("<br>")
  const ok = result.checks.every((check) => check.ok)
  const known = result.checks.some((check) => !check.ok && check.finding !== undefined)
  const line = `| ${escape(result.area)} | ${escape(result.scenario)} | ${escape(figures)}; time: ${
    (result.durationMs / 1000).toFixed(1)
  } s | ${escape(checks)} | ${ok ? "pass" : known ? "**fail** (known bug)" : "**fail**"} |`
  return { area: result.area, line, pass: ok }
}

/** The scenario rows of a RELIABILITY.md (the header and its rule left out). */
const rowsOf = (previous: string): Array<Row> =>
  previous.split("\n").filter((line) => line.startsWith("| ") && !/^\|\s*(area\s*\||-)/.test(line)).map((line) => ({
    area: line.split("|")[1]!.trim(),
    line,
    pass: /\|\s*pass\s*\|$/.test(line)
  }))

/**
 * The rows of this run in place of the previous file's rows of the same areas; the rows of areas this
 * run did not cover (a run of some files only) kept as they were, new areas at the end.
 */
const merge = (previous: ReadonlyArray<Row>, current: ReadonlyArray<Row>): Array<Row> => {
  const areas = new Set(current.map((row) => row.area))
  const placed = new Set<string>()
  const out: Array<Row> = []
  for (const row of previous) {
    if (!areas.has(row.area)) out.push(row)
    else if (!placed.has(row.area)) {
      placed.add(row.area)
      out.push(...current.filter((each) => each.area === row.area))
    }
  }
  return [...out, ...current.filter((row) => !placed.has(row.area))]
}

/**
 * The markdown of RELIABILITY.md: this run's scenarios, and from `previous` (the file as it was) the
 * rows of the areas this run did not cover.
 */
export const markdown = (all: ReadonlyArray<Result>, meta: Record<string, string>, previous = ""): string => {
  const current = all.map(rowOf)
  const kept = rowsOf(previous).filter((row) => !current.some((each) => each.area === row.area))
  const rows = merge(rowsOf(previous), current)
  const passed = rows.filter((row) => row.pass).length
  const findings = all.flatMap((result) =>
    result.checks.filter((check) => check.finding !== undefined).map((check) => ({ result, check }))
  )
  // where the kept rows were measured: the run the previous file kept them from, if it kept some
  const previousRun = previous.match(/^- kept from the previous run \((.*)\):/m)?.[1] ??
    previous.match(/^- run: (.*)$/m)?.[1]
  const out: Array<string> = [
    "# Reliability and security of the echo server",
    "",
    "Generated by the suite in `apps/server/test/reliability/` and `apps/server/test/haproxy.test.ts`",
    "(`pnpm test:reliability`); do not edit by hand. A run of some files only (`pnpm test:reliability",
    "test/haproxy.test.ts`) replaces their areas' rows and keeps the others, saying so below. Every figure",
    "was measured on loopback (127.0.0.1).",
    "",
    ...Object.entries(meta).map(([key, value]) => `- ${key}: ${value}`),
    ...(kept.length === 0 ? [] : [
      `- kept from the previous run${
        previousRun === undefined ? "" : ` (${previousRun})`
      }: the ${kept.length} scenarios of ${[...new Set(kept.map((row) => row.area))].join(", ")}, not run this time`
    ]),
    `- scenarios: ${rows.length}, all checks passed: ${passed}, with a failed check: ${rows.length - passed}`,
    "",
    "| area | scenario | figures | checks | result |",
    "|---|---|---|---|---|",
    ...rows.map((row) => row.line)
  ]
  if (findings.length > 0) {
    out.push("", "## Findings", "")
    for (const { check, result } of findings) {
      out.push(
        `- **${escape(result.scenario)}: ${escape(check.name)}** (${check.ok ? "now passes" : "fails"}): ${
          escape(check.finding!)
        }`
      )
    }
  }
  return out.join("\n") + "\n"
}
