/**
 * The apps' flags: each one also read from an environment variable
 * (`--read-limit` from `ECHO_READ_LIMIT`), checked like the flag, with its
 * default and its variable in `--help`.
 *
 * @since 0.1.0
 */
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Durations from "./Durations.ts"

/**
 * Where a flag's environment variable is looked up: `ECHO` unless given
 * (the client's bench flags use `ECHO_BENCH`, so that a server's
 * `ECHO_WORKERS` does not reshape the load).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly prefix?: string | undefined
}

/**
 * The environment variable of a flag: `env("read-limit")` is `ECHO_READ_LIMIT`.
 *
 * @since 0.1.0
 * @category naming
 */
export const env = (name: string, prefix = "ECHO"): string => `${prefix}_${name.toUpperCase().replaceAll("-", "_")}`

const help = (description: string, name: string, options: Options, fallback?: string): string =>
  `${description} [${fallback === undefined ? "" : `default ${fallback}, `}env ${env(name, options.prefix)}]`

/**
 * The largest `int` accepted unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxInt = 2 ** 31 - 1

/**
 * An integer in `[minimum, maximum]`. Without a `default` the flag is
 * required: pipe it through `Flag.optional` for a setting left to the kernel.
 *
 * @since 0.1.0
 * @category flags
 */
export const int = (
  name: string,
  description: string,
  options: Options & {
    readonly minimum: number
    readonly maximum?: number | undefined
    readonly default?: number | undefined
  }
): Flag.Flag<number> => {
  const flag = Flag.Int(name).pipe(
    Flag.withDescription(help(description, name, options, options.default?.toString())),
    Flag.withFallbackConfig(Config.Int(env(name, options.prefix))),
    Flag.withSchema(
      Schema.Int.check(Schema.isBetween({ minimum: options.minimum, maximum: options.maximum ?? maxInt }))
    )
  )
  return options.default === undefined ? flag : Flag.withDefault(flag, options.default)
}

/**
 * A duration, in seconds (`10`, `0.5`) or as Effect writes one (`500 millis`),
 * never negative.
 *
 * @since 0.1.0
 * @category flags
 */
export const duration = (
  name: string,
  description: string,
  options: Options & { readonly default: string }
) =>
  Flag.String(name).pipe(
    Flag.withMetavar("seconds"),
    Flag.withDescription(help(`${description}, in seconds or as "500 millis"`, name, options, options.default)),
    Flag.withFallbackConfig(Config.String(env(name, options.prefix))),
    Flag.withDefault(options.default),
    Flag.filterMap(Durations.parse, Durations.invalid)
  )

/**
 * An on/off flag: `--stdin`, `--stdin=false`, or `true`/`false` in its variable.
 *
 * @since 0.1.0
 * @category flags
 */
export const boolean = (
  name: string,
  description: string,
  options: Options & { readonly default?: boolean | undefined } = {}
): Flag.Flag<boolean> => {
  const fallback = options.default ?? false
  return Flag.Boolean(name).pipe(
    Flag.withDescription(help(description, name, options, String(fallback))),
    Flag.withFallbackConfig(Config.Boolean(env(name, options.prefix))),
    Flag.withDefault(fallback)
  )
}

/**
 * A text value with no default, `None` when neither the flag nor its variable
 * is given: `--unix PATH`, `--servername NAME`.
 *
 * @since 0.2.0
 * @category flags
 */
export const string = (
  name: string,
  description: string,
  options: Options & { readonly metavar?: string | undefined } = {}
): Flag.Flag<Option.Option<string>> =>
  Flag.String(name).pipe(
    Flag.withMetavar(options.metavar ?? "string"),
    Flag.withDescription(help(description, name, options)),
    Flag.withFallbackConfig(Config.String(env(name, options.prefix))),
    Flag.withSchema(Schema.NonEmptyString),
    Flag.optional
  )
