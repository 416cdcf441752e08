// `connect`: the handshake that pairs a client end with a server end on one
// link, and hands the server end to the listener; then, for TLS, the TLS
// handshake over it (tls.ts), outside the connect's timeout, as on Node.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Addresses from "../../Address.ts"
import type { Connection } from "../../Connection.ts"
import * as OSError from "../../OSError.ts"
import type { ConnectOptions } from "../../Tcp.ts"
import * as Errors from "../errors.ts"
import * as Settings from "../settings.ts"
import * as TlsOptions from "../tls/options.ts"
import { closeEffect, Endpoint, toConnection } from "./endpoint.ts"
import {
  addressOf,
  allocatePort,
  familyOf,
  findListener,
  isInvalidHost,
  notFound,
  resolveHost,
  takeRefusal
} from "./hosts.ts"
import { arrive, type Listener } from "./listener.ts"
import type { Network } from "./network.ts"
import * as FakeTls from "./tls.ts"
import { abortLink, Link, logEvent } from "./wire.ts"

/** Both ends of a new connection to `listener`, on `host` as resolved; the listener takes the server end. */
const establish = (
  network: Network,
  listener: Listener,
  request: Settings.Connect,
  host: string,
  now: number
): Effect.Effect<Endpoint> => {
  const link = new Link(now, network.resetAfter)
  const sourceHost = request.localAddress !== undefined
    ? resolveHost(request.localAddress)
    : Addresses.isUnspecified(host)
    ? (familyOf(host) === "IPv6" ? "::1" : "127.0.0.1")
    : host
  const clientAddress = addressOf(sourceHost, allocatePort(network))
  const serverAddress = addressOf(Addresses.isUnspecified(host) ? sourceHost : host, request.port)
  const client = new Endpoint({
    link,
    local: clientAddress,
    remote: serverAddress,
    settings: request.settings,
    accepted: false,
    reusePort: false
  })
  const server = new Endpoint({
    link,
    local: serverAddress,
    remote: clientAddress,
    settings: listener.options.settings,
    accepted: true,
    reusePort: listener.options.reusePort
  })
  client.outbound = server.inbound
  server.outbound = client.inbound
  link.ends = [client, server]
  network.links.add(link)
  logEvent(network, client, "connect")
  if (link.resetAfter !== undefined && link.resetAfter <= 0) abortLink(network, link, now)
  return Effect.as(arrive(network, listener, server, now), client)
}

export const makeConnect = (network: Network) =>
  Effect.fn("Tcp.connect")(function*(options: ConnectOptions) {
    const request = yield* Settings.connect(options)
    // Errors name the host as asked, as Node's do; addresses are the resolved ones.
    const { host, port, timeoutMillis } = request
    if (isInvalidHost(host)) return yield* Effect.fail(notFound(host))
    const tls = options.tls === undefined ? undefined : yield* TlsOptions.client(options.tls, host, port)
    const resolved = resolveHost(host)
    const attempt = Effect.gen(function*() {
      if (network.latency > 0) yield* Effect.sleep(network.latency)
      const client = yield* Effect.acquireRelease(
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.suspend(() => {
            const listener = takeRefusal(network, port) ? undefined : findListener(network, resolved, port)
            return listener === undefined
              ? Effect.fail(Errors.connect("ECONNREFUSED", host, port))
              : establish(network, listener, request, resolved, now)
          })),
        (client, exit) => closeEffect(network, client, exit)
      )
      return client
    })
    const client = timeoutMillis === undefined ? yield* attempt : yield* Effect.timeoutOrElse(attempt, {
      duration: timeoutMillis,
      orElse: () => Effect.fail(Errors.connectTimedOut(host, port, timeoutMillis))
    })
    if (tls === undefined) return toConnection(network, client)
    return yield* (FakeTls.secure(network, client, tls, OSError.tagsOf.connect) as Effect.Effect<
      Connection,
      OSError.ConnectError
    >)
  })
