/**
 * `--metrics-port`: `GET /metrics` in the Prometheus text format, written by
 * Effect's own `PrometheusMetrics`, served by Effect's own HTTP server on
 * node:http (`NodeHttpServer` and `HttpRouter`, from `@effect/platform-node`,
 * which the apps depend on already). Any other path is a 404.
 *
 * The CLI loads this module only when `--metrics-port` is given: the HTTP
 * platform adds about 20 MB to a process's resident memory (measured), which
 * a server without metrics does not pay.
 *
 * @since 0.2.0
 */
import { Address, OSError } from "@effect-tcp/socket"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly host: string
  readonly port: number
  /**
   * The metrics to serve, collected anew at every scrape (the parent of
   * `--workers`: its workers', see `WorkerMetrics`). Unset: this process's own.
   */
  readonly collect?: Effect.Effect<Context.Context<never>> | undefined
}

/**
 * The path served.
 *
 * @since 0.2.0
 * @category constants
 */
export const path = "/metrics"

// the version Prometheus's text format is negotiated by
const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * A scraper sends one small request now and then: a peer that holds many
 * connections open, or sends its request slowly, is refused or cut off.
 */
const limits = { maxConnections: 32, headersTimeout: 5_000, requestTimeout: 10_000 }

const createServer = (): Http.Server => {
  const server = Http.createServer({ headersTimeout: limits.headersTimeout, requestTimeout: limits.requestTimeout })
  server.maxConnections = limits.maxConnections
  return server
}

const routes = (collect: Options["collect"]) =>
  collect === undefined
    ? PrometheusMetrics.layerHttp({ path })
    : HttpRouter.add(
      "GET",
      path,
      Effect.map(
        collect,
        (context) => HttpServerResponse.text(PrometheusMetrics.formatUnsafe(context), { contentType })
      )
    )

/**
 * Serves the metrics until the scope closes, and logs where (`Metrics on
 * http://127.0.0.1:9100/metrics`). A port that is taken is an
 * `AddressInUseError` naming `--metrics-port` and the address, as the echo
 * port's is.
 *
 * @since 0.2.0
 * @category running
 */
export const serve = (options: Options): Effect.Effect<Address.Address, OSError.ListenError, Scope.Scope> =>
  Effect.gen(function*() {
    const { host, port } = options
    const layer = HttpRouter.serve(routes(options.collect), { disableLogger: true, disableListenLog: true }).pipe(
      // a scrape in flight may finish on shutdown, not a slow one
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host, port, gracefulShutdownTimeout: 1000 }))
    )
    const context = yield* Layer.build(layer).pipe(
      Effect.catchTag("ServeError", (error) =>
        Effect.fail(
          OSError.fromSystemError(error.cause, { syscall: "listen", host, port, detail: "--metrics-port" }, [
            ...OSError.tagsOf.listen
          ])
        ))
    )
    const address = Address.fromNetAddress(Context.get(context, HttpServer.HttpServer).address)
    yield* Effect.annotateLogs(Effect.logInfo(`Metrics on http://${Address.format(address)}${path}`), {
      ...(Address.isInet(address) ? { host: address.host, port: address.port } : address),
      path
    })
    return address
  })
