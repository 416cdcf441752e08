/**
 * `--otlp-endpoint URL`: the flag, its check, and the server run with a span
 * per connection exported there, or as it is without the flag. What exports
 * the spans (`OtlpTracing`, `ConnectionSpan`) is loaded only with the flag,
 * so a server without it makes no span and loads no OTLP module.
 *
 * The URL is the collector's base, as `OTEL_EXPORTER_OTLP_ENDPOINT` is
 * (`http://localhost:4318`): the spans go to its `/v1/traces`, unless the URL
 * already ends so. `ECHO_OTLP_ENDPOINT`, then `OTEL_EXPORTER_OTLP_ENDPOINT`,
 * stand in for the flag; `OTEL_SERVICE_NAME` for the service name
 * (`echo-server`), and `OTEL_RESOURCE_ATTRIBUTES` adds to the resource.
 *
 * @since 0.2.0
 */
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as EchoServer from "./EchoServer.ts"

/**
 * The flag's variable, before OpenTelemetry's own.
 *
 * @since 0.2.0
 * @category constants
 */
export const variable = "ECHO_OTLP_ENDPOINT"

/**
 * The service the spans are of, unless `OTEL_SERVICE_NAME` says otherwise.
 *
 * @since 0.2.0
 * @category constants
 */
export const serviceName = "echo-server"

/**
 * @since 0.2.0
 * @category flags
 */
export const flag: Flag.Flag<Option.Option<string>> = Flag.String("otlp-endpoint").pipe(
  Flag.withMetavar("url"),
  Flag.withDescription(
    "Export a span per connection over OTLP/HTTP to this collector (http://localhost:4318: to its /v1/traces) " +
      `[env ${variable}, else OTEL_EXPORTER_OTLP_ENDPOINT]`
  ),
  Flag.withFallbackConfig(
    Config.String(variable).pipe(Config.orElse(() => Config.String("OTEL_EXPORTER_OTLP_ENDPOINT")))
  ),
  Flag.withSchema(Schema.NonEmptyString),
  Flag.optional
)

/**
 * Where the spans are posted, from the endpoint given: its `/v1/traces`.
 * `undefined` for what is not an `http:` or `https:` URL.
 *
 * @since 0.2.0
 * @category parsing
 */
export const tracesUrl = (endpoint: string): string | undefined => {
  if (!URL.canParse(endpoint)) return undefined
  const url = new URL(endpoint)
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") return undefined
  if (!url.pathname.endsWith("/v1/traces")) {
    url.pathname += `${url.pathname.endsWith("/") ? "" : "/"}v1/traces`
  }
  return url.toString()
}

/**
 * What is wrong with the endpoint, for a usage error; `undefined` when it will do.
 *
 * @since 0.2.0
 * @category validation
 */
export const problem = (endpoint: Option.Option<string>): string | undefined =>
  Option.isSome(endpoint) && tracesUrl(endpoint.value) === undefined
    ? `--otlp-endpoint (or ${variable}, OTEL_EXPORTER_OTLP_ENDPOINT) must be an http:// or https:// URL, ` +
      `not ${JSON.stringify(endpoint.value)}`
    : undefined

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The flag's value. */
  readonly endpoint: Option.Option<string>
  readonly serviceVersion: string
  /** Under `--workers`, this worker's index. */
  readonly worker?: number | undefined
}

/**
 * Runs `server` (the echo server, given what to add to its options): with a
 * span per connection exported to the endpoint, or untouched without one.
 *
 * @since 0.2.0
 * @category running
 */
export const run = <E, R>(
  server: (options: Pick<EchoServer.Options, "handler">) => Effect.Effect<never, E, R>,
  options: Options
): Effect.Effect<never, E, R> => {
  const url = Option.isSome(options.endpoint) ? tracesUrl(options.endpoint.value) : undefined
  if (url === undefined) return server({})
  return Effect.gen(function*() {
    const OtlpTracing = yield* Effect.promise(() => import("./OtlpTracing.ts"))
    const name = yield* Effect.orDie(Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault(serviceName)))
    return yield* OtlpTracing.run(server, {
      url,
      serviceName: name,
      serviceVersion: options.serviceVersion,
      worker: options.worker
    })
  })
}
