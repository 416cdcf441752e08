/**
 * The one JSON object `apps/client bench --json` prints on stdout, and its parser.
 */

export interface Latency {
  readonly min: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

export interface LoadSummary {
  readonly connections: number
  readonly size: number
  readonly durationSeconds: number
  readonly requests: number
  readonly bytes: number
  readonly requestsPerSecond: number
  readonly mibPerSecond: number
  readonly latencyMicros: Latency
  readonly errors: Readonly<Record<string, number>>
}

const numberFields = [
  "connections",
  "size",
  "durationSeconds",
  "requests",
  "bytes",
  "requestsPerSecond",
  "mibPerSecond"
] as const
const latencyFields = ["min", "p50", "p90", "p99", "p999", "max"] as const

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isNumber = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

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

export const validateSummary = (value: unknown): LoadSummary => {
  if (!isRecord(value)) throw new Error("summary: not a JSON object")
  for (const field of numberFields) {
    if (!isNumber(value[field])) throw new Error(`summary: "${field}" is not a number`)
  }
  const latency = value["latencyMicros"]
  if (!isRecord(latency)) throw new Error(`summary: "latencyMicros" is not an object`)
  for (const field of latencyFields) {
    if (!isNumber(latency[field])) throw new Error(`summary: "latencyMicros.${field}" is not a number`)
  }
  const errors = value["errors"] ?? {}
  if (!isRecord(errors) || !Object.values(errors).every(isNumber)) {
    throw new Error(`summary: "errors" is not an object of counts`)
  }
  return value as unknown as LoadSummary
}

export const errorCount = (summary: LoadSummary): number => Object.values(summary.errors).reduce((sum, n) => sum + n, 0)
