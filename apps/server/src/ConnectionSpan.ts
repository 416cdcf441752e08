/**
 * One span per connection (`--otlp-endpoint`): `echo.connection`, of kind
 * server, from the moment the echo starts (after the TLS handshake and the
 * PROXY header) to its close, each connection the root of its own trace. Its
 * attributes follow OpenTelemetry's semantic conventions (`network.*`,
 * `client.*`, `server.*`, `tls.*`, `error.type`); what they have no name for
 * is under `echo.connection.*`.
 *
 * Loaded only with `--otlp-endpoint`, by `OtlpTracing`: without it the
 * server serves `Echo.handler`, and no span is made.
 *
 * @since 0.2.0
 */
import { Address } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Echo from "./Echo.ts"

/**
 * @since 0.2.0
 * @category constants
 */
export const name = "echo.connection"

/**
 * The attributes of ours, where the semantic conventions have no name (bytes
 * of a connection, how it ended).
 *
 * @since 0.2.0
 * @category constants
 */
export const custom = {
  id: "echo.connection.id",
  bytesReceived: "echo.connection.bytes_received",
  bytesSent: "echo.connection.bytes_sent",
  closeReason: "echo.connection.close_reason"
} as const

/**
 * Which close reasons are failures of the connection: they set `error.type`
 * and the span's status to error. The peer's close, the idle timeout and the
 * shutdown are the server's ordinary ways to end one.
 *
 * @since 0.2.0
 * @category models
 */
export const failed: ReadonlySet<Echo.CloseReason> = new Set(["reset", "error"])

const networkType = (address: Address.InetAddress): string => address.family === "IPv6" ? "ipv6" : "ipv4"

/** `address.port` and `address.address` (as `prefix.address`, `prefix.port`), what there is of them. */
const endpoint = (prefix: string, address: Address.Address | undefined): Record<string, unknown> => {
  if (address === undefined) return {}
  if (Address.isInet(address)) return { [`${prefix}.address`]: address.host, [`${prefix}.port`]: address.port }
  // an unnamed Unix socket (a client's end) has no name to give
  return address.path === "" ? {} : { [`${prefix}.address`]: Address.formatPath(address.path) }
}

/** `TLSv1.3` is `1.3`, as `tls.protocol.version` wants. */
const tlsVersion = (protocol: string): string => protocol.replace(/^TLSv/, "")

const tlsAttributes = (tls: Connection.Connection["tls"]): Record<string, unknown> => {
  if (tls === undefined) return {}
  return {
    "tls.established": true,
    "tls.protocol.name": "tls",
    "tls.protocol.version": tlsVersion(tls.protocol),
    "tls.cipher": tls.cipher,
    ...(tls.alpnProtocol === undefined ? {} : { "tls.next_protocol": tls.alpnProtocol }),
    ...(tls.peerCertificate === undefined ? {} : { "tls.client.subject": tls.peerCertificate.subject })
  }
}

/**
 * A connection's attributes when it opens. The TCP peer (`network.peer.*`)
 * is the load balancer where the PROXY protocol names the client behind it
 * (`client.*`); `server.*` is where the client connected to (the balancer's
 * address, by the header), `network.local.*` this socket's own end.
 *
 * @since 0.2.0
 * @category attributes
 */
export const opened = (
  connection: Pick<Connection.Connection, "id" | "remoteAddress" | "localAddress" | "tls" | "proxy">
): Record<string, unknown> => {
  const { localAddress, proxy, remoteAddress } = connection
  return {
    [custom.id]: connection.id,
    "network.transport": Address.isInet(localAddress) ? "tcp" : "unix",
    ...(Address.isInet(localAddress) ? { "network.type": networkType(localAddress) } : {}),
    ...endpoint("network.peer", proxy?.address ?? remoteAddress),
    ...endpoint("network.local", localAddress),
    ...endpoint("client", remoteAddress),
    ...endpoint("server", proxy?.destination ?? localAddress),
    ...tlsAttributes(connection.tls)
  }
}

/**
 * A connection's attributes when it closes: its bytes, why it closed, and
 * `error.type` (the error's tag) where that was a failure.
 *
 * @since 0.2.0
 * @category attributes
 */
export const closed = (report: Omit<Echo.Report, "exit">): Record<string, unknown> => ({
  [custom.bytesReceived]: report.bytesIn,
  [custom.bytesSent]: report.bytesOut,
  [custom.closeReason]: report.reason,
  ...(failed.has(report.reason) ? { "error.type": report.error ?? "Error" } : {})
})

/**
 * What the span ends with, which the exporter turns into its status: the
 * echo's own failure where it failed (status error, with the error's one-line
 * message), success otherwise.
 *
 * @since 0.2.0
 * @category attributes
 */
export const outcome = (report: Echo.Report): Exit.Exit<unknown, unknown> =>
  failed.has(report.reason) && Exit.isFailure(report.exit) ? report.exit : Exit.void

/**
 * `Echo.handler` in a span of its own, made with the current `Tracer`.
 * Interrupted (the shutdown's grace ran out), the span ends interrupted. A
 * health check (`Echo.isHealthCheck`) has none.
 *
 * @since 0.2.0
 * @category handlers
 */
export const handler = (connection: Connection.Connection): Effect.Effect<void> =>
  // a balancer's health check is not a client's connection: no span, as no info line
  Echo.isHealthCheck(connection) ? Echo.handler(connection) : Effect.flatMap(
    Effect.makeSpan(name, { kind: "server", root: true, attributes: opened(connection) }),
    (span) => {
      let ended: Exit.Exit<unknown, unknown> = Exit.void
      const onClosed = (report: Echo.Report) =>
        Effect.sync(() => {
          for (const [key, value] of Object.entries(closed(report))) span.attribute(key, value)
          ended = outcome(report)
        })
      return Effect.onExit(
        Echo.observed(connection, onClosed),
        (exit) => Effect.map(Clock.currentTimeNanos, (now) => span.end(now, Exit.isFailure(exit) ? exit : ended))
      )
    }
  )
