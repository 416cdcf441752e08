/**
 * Log output for the apps: human-readable on a terminal, one JSON object or
 * one logfmt record a line for machines. Logs go to stderr, so that stdout
 * stays the program's own output (the client's echo, a bench summary).
 *
 * @since 0.1.0
 */
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import * as Formatter from "effect/Formatter"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"

/**
 * @since 0.1.0
 * @category models
 */
export type Format = "pretty" | "json" | "logfmt"

/**
 * @since 0.1.0
 * @category models
 */
export const formats: ReadonlyArray<Format> = ["pretty", "json", "logfmt"]

/**
 * `pretty` when stderr is a terminal, `logfmt` otherwise.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultFormat = (): Format => process.stderr.isTTY ? "pretty" : "logfmt"

let current: Format = defaultFormat()

/**
 * The format chosen for this process, so that the last error line matches the logs.
 *
 * @since 0.1.0
 * @category models
 */
export const currentFormat = (): Format => current

// A server logs a line or two per connection, so a line's cost adds up: Effect's JSON formatter walks
// every value for cycles and redaction (~5 KB of garbage a line) and the console formats again. Lines
// go straight to stderr, and a line whose values are all plain (strings, numbers, booleans) is
// serialized directly, in the same shape as `Logger.formatJson`; anything else takes Effect's way.

const isPlain = (value: unknown): boolean =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean"

const plainRecord = (record: Readonly<Record<string, unknown>>): boolean => {
  for (const key in record) if (!isPlain(record[key])) return false
  return true
}

/** The message of a plain line (one string, no cause, no spans, plain annotations), or undefined. */
const plainMessage = (options: Logger.Options<unknown>): string | undefined => {
  const { cause, fiber, message } = options
  const messages = Array.isArray(message) ? message : [message]
  return messages.length === 1 && typeof messages[0] === "string" && cause.reasons.length === 0 &&
      fiber.getRef(References.CurrentLogSpans).length === 0 &&
      plainRecord(fiber.getRef(References.CurrentLogAnnotations))
    ? messages[0]
    : undefined
}

/**
 * `Logger.formatJson`'s line, the same to the byte.
 *
 * @since 0.1.0
 * @category formatters
 */
export const formatJson = (options: Logger.Options<unknown>): string => {
  const message = plainMessage(options)
  if (message === undefined) return Formatter.formatJson(Logger.formatStructured.log(options))
  const { date, fiber, logLevel } = options
  return JSON.stringify({
    message,
    level: logLevel.toUpperCase(),
    timestamp: date.toISOString(),
    annotations: fiber.getRef(References.CurrentLogAnnotations),
    spans: {},
    fiberId: `#${fiber.id}`
  })
}

const textOnly = /^[^\s"=]*$/
const logfmtLabel = (label: string): string => label.replace(/[\s="]/g, "_")
const logfmtValue = (value: string): string => textOnly.test(value) ? value : JSON.stringify(value)

/**
 * `Logger.formatLogFmt`'s line, the same to the byte.
 *
 * @since 0.1.0
 * @category formatters
 */
export const formatLogFmt = (options: Logger.Options<unknown>): string => {
  const message = plainMessage(options)
  if (message === undefined) return Logger.formatLogFmt.log(options)
  const { date, fiber, logLevel } = options
  let line = `timestamp=${date.toISOString()} level=${logLevel.toUpperCase()} fiber=#${fiber.id} message=${
    logfmtValue(message)
  }`
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  for (const key in annotations) line += ` ${logfmtLabel(key)}=${logfmtValue(String(annotations[key]))}`
  return line
}

const toStderr = (format: (options: Logger.Options<unknown>) => string): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    process.stderr.write(`${format(options)}\n`)
  })

const loggerOf = (format: Format) => {
  switch (format) {
    case "json":
      return toStderr(formatJson)
    case "logfmt":
      return toStderr(formatLogFmt)
    case "pretty":
      return Logger.consolePretty()
  }
}

/**
 * The logger layer for a format (replacing Effect's default logger).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (format: Format): Layer.Layer<never> => {
  current = format
  return Layer.merge(Logger.layer([loggerOf(format)]), Layer.succeed(Logger.LogToStderr, true))
}

/**
 * `--log-format pretty|json|logfmt`, also from `<envPrefix>_LOG_FORMAT`.
 *
 * @since 0.1.0
 * @category flags
 */
export const formatFlag = (envPrefix: string): Flag.Flag<Format> =>
  Flag.Literals("log-format", formats).pipe(
    Flag.withDescription(`Log format: pretty (default on a terminal), json or logfmt [env ${envPrefix}_LOG_FORMAT]`),
    Flag.withFallbackConfig(Config.Literals(formats, `${envPrefix}_LOG_FORMAT`)),
    Flag.withDefault(defaultFormat())
  )
