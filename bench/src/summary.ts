/**
 * The one JSON object `apps/client bench --json` prints on stdout, and its parser.
 *
 * The shape is the client's own `Summary` Schema (`@effect-tcp/client/Summary`), so the
 * harness and the client cannot drift apart: the bench decodes with it, it does not
 * restate its fields.
 */
import { Summary } from "@effect-tcp/client/Summary"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"

export type LoadSummary = typeof Summary.Type

export type Latency = LoadSummary["latencyMicros"]

const decode = Schema.decodeUnknownResult(Summary, { reportInput: true })

const toIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * One line naming the first bad field with Schema's own message, e.g.
 * `summary: "latencyMicros.min": Missing key` or `summary: "mibPerSecond": Expected number, got "fast"`.
 */
const describe = (issue: SchemaIssue.Issue): string => {
  const first = toIssues(issue).issues[0]
  const message = (first?.message ?? "invalid").replaceAll("\n", " ")
  const path = (first?.path ?? []).map((key) => String(typeof key === "object" ? key.key : key)).join(".")
  const line = path === "" ? `summary: ${message}` : `summary: "${path}": ${message}`
  return line.length > 300 ? `${line.slice(0, 300)}…` : line
}

/**
 * Reads the summary from the client's stdout: the last line that is a JSON object
 * (anything else on stdout is ignored). Throws an `Error` saying what is missing.
 */
export const parseSummary = (stdout: string): LoadSummary => {
  const lines = stdout.split("\n").map((line) => line.trim()).filter((line) => line.startsWith("{"))
  const last = lines.at(-1)
  if (last === undefined) {
    throw new Error(`no JSON summary on the client's stdout: ${JSON.stringify(stdout.slice(0, 200))}`)
  }
  let value: unknown
  try {
    value = JSON.parse(last)
  } catch {
    throw new Error(`the client's summary is not valid JSON: ${last.slice(0, 200)}`)
  }
  return validateSummary(value)
}

/** Decodes a parsed summary with the client's Schema. Throws an `Error` naming the first bad field. */
export const validateSummary = (value: unknown): LoadSummary => {
  const result = decode(value)
  if (Result.isFailure(result)) throw new Error(describe(result.failure.issue))
  return result.success
}

export const errorCount = (summary: LoadSummary): number => Object.values(summary.errors).reduce((sum, n) => sum + n, 0)
