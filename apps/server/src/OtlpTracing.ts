/**
 * `--otlp-endpoint`: the echo server with a span per connection
 * (`ConnectionSpan`), exported over OTLP/HTTP (JSON) by Effect's own
 * `OtlpTracer` (`effect/observability`), posted with Effect's fetch client
 * (`FetchHttpClient`, on Node's own `fetch`: nothing to install).
 *
 * Spans go out in batches (every 5 seconds, or 1,000 at a time) and on
 * shutdown, once the connections have closed: the last batch is flushed
 * then, for at most `flushTimeout`. A collector that cannot be reached or
 * refuses the spans is one warning in the log, once; the spans are dropped
 * and the server serves on.
 *
 * The CLI loads this module only when `--otlp-endpoint` is given (`Tracing`).
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Layer from "effect/Layer"
import type * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as ConnectionSpan from "./ConnectionSpan.ts"
import type * as EchoServer from "./EchoServer.ts"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Where the spans are posted: the collector's `/v1/traces`. */
  readonly url: string
  readonly serviceName: string
  readonly serviceVersion: string
  /** Under `--workers`, this worker's index (`echo.worker.index` on every span's resource). */
  readonly worker?: number | undefined
}

/**
 * How long the last spans may take to reach the collector on shutdown.
 *
 * @since 0.2.0
 * @category constants
 */
export const flushTimeout = Duration.seconds(3)

/**
 * How long one export may wait for the collector's answer (OpenTelemetry's
 * default `OTEL_EXPORTER_OTLP_TIMEOUT`).
 *
 * @since 0.2.0
 * @category constants
 */
export const requestTimeout = Duration.seconds(10)

/** What an export that waited `requestTimeout` for an answer fails with. */
const timeout = (request: HttpClientRequest.HttpClientRequest) => () =>
  Effect.fail(
    new HttpClientError.HttpClientError({
      reason: new HttpClientError.TransportError({
        request,
        description: `no answer in ${Duration.format(requestTimeout)}`
      })
    })
  )

/**
 * Effect's fetch client with a bound on each request, and one warning, the
 * first time an export fails (the exporter itself retries, then drops the
 * batch and pauses for a minute, logging only at debug), or, at the end, if
 * the shutdown cut an export short (a collector that never answers).
 */
const client = (url: string): Layer.Layer<HttpClient.HttpClient> => {
  let warned = false
  let cutShort = false
  const warnOnce = (reason: string) =>
    Effect.suspend(() => {
      if (warned) return Effect.void
      warned = true
      return Effect.annotateLogs(Effect.logWarning(`Spans not exported to ${url}: ${reason}`), { url })
    })
  const bounded = Effect.map(HttpClient.HttpClient, (fetch) =>
    fetch.pipe(
      HttpClient.transform((response, request) =>
        Effect.timeoutOrElse(response, { duration: requestTimeout, orElse: timeout(request) }).pipe(
          Effect.onInterrupt(() => Effect.sync(() => (cutShort = true)))
        )
      ),
      HttpClient.tap((response) =>
        response.status >= 300 ? warnOnce(`the collector answered ${response.status}`) : Effect.void
      ),
      HttpClient.tapError((error) => warnOnce(error.message))
    ))
  // built before the tracer, so this runs after the tracer's last flush
  const atEnd = Effect.addFinalizer(() =>
    Effect.suspend(() =>
      cutShort ? warnOnce(`no answer before the shutdown (${Duration.format(flushTimeout)})`) : Effect.void
    )
  )
  return Layer.effect(HttpClient.HttpClient, Effect.andThen(atEnd, bounded)).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
}

/**
 * The OTLP tracer as the process's `Tracer`, flushed when its scope closes.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<OtlpExporter.Flusher> =>
  OtlpTracer.layer({
    url: options.url,
    resource: {
      serviceName: options.serviceName,
      serviceVersion: options.serviceVersion,
      attributes: {
        "process.pid": process.pid,
        ...(options.worker === undefined ? {} : { "echo.worker.index": options.worker })
      }
    },
    shutdownTimeout: flushTimeout
  }).pipe(
    Layer.provide([client(options.url), OtlpSerialization.layerJson])
  )

/**
 * Runs the echo server with a span per connection, exported to `options.url`.
 *
 * @since 0.2.0
 * @category running
 */
export const run = <E, R>(
  server: (options: Pick<EchoServer.Options, "handler">) => Effect.Effect<never, E, R>,
  options: Options
): Effect.Effect<never, E, R> => server({ handler: ConnectionSpan.handler }).pipe(Effect.provide(layer(options)))
