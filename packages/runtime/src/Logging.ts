/**
 * Log output for the apps: human-readable on a terminal, one JSON object or
 * one logfmt record a line for machines. Logs go to stderr, so that stdout
 * stays the program's own output (the client's echo, a bench summary).
 *
 * @since 0.1.0
 */
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"

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

const loggerOf = (format: Format) => {
  switch (format) {
    case "json":
      return Logger.withConsoleError(Logger.formatJson)
    case "logfmt":
      return Logger.withConsoleError(Logger.formatLogFmt)
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
