// `connect`: the handshake that pairs a client end with a server end on one
// link, and hands the server end to the listener; then, for TLS, the TLS
// handshake over it (tls.ts), outside the connect's timeout, as on Node.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Address } from "../../Address.ts"
import * as Addresses from "../../Address.ts"
import type { Connection } from "../../Connection.ts"
import * as OSError from "../../OSError.ts"
import type { ConnectOptions } from "../../Tcp.ts"
import * as Errors from "../errors.ts"
import * as Settings from "../settings.ts"
import * as TlsOptions from "../tls/options.ts"
import { watch } from "./deadPeers.ts"
import { closeEffect, Endpoint, toConnection } from "./endpoint.ts"
import {
  addressOf,
  allocatePort,
  findListener,
  isInvalidHost,
  loopbackOf,
  notFound,
  resolveHost,
  takeRefusal
} from "./hosts.ts"
import { arrive, type Listener } from "./listener.ts"
import type { Network } from "./network.ts"
import * as FakeTls from "./tls.ts"
import * as Unix from "./unix.ts"
import { abortLink, Link, logEvent } from "./wire.ts"

/** Both ends of a new connection to `listener`; the listener takes the server end. */
const establish = (
  network: Network,
  listener: Listener,
  request: Settings.Connect,
  ends: { readonly client: Address; readonly server: Address; readonly unix: boolean },
  now: number
): Effect.Effect<Endpoint> => {
  const link = new Link(now, network.resetAfter)
  link.unix = ends.unix
  const client = new Endpoint({
    link,
    local: ends.client,
    remote: ends.server,
    settings: request.settings,
    accepted: false,
    reusePort: false
  })
  const server = new Endpoint({
    link,
    local: ends.server,
    remote: ends.client,
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

/** A TCP connect to `host` (as resolved): the listener it reaches, on both ends' addresses. */
const connectInet = (network: Network, request: Settings.Connect, host: string, now: number) => {
  const { port } = request
  // a connect to 0.0.0.0 or :: goes to the loopback of its family
  const target = Addresses.isUnspecified(host) ? loopbackOf(host) : host
  const listener = takeRefusal(network, port) ? undefined : findListener(network, target, port)
  if (listener === undefined) return Effect.fail(Errors.connect("ECONNREFUSED", request.where))
  const sourceHost = request.localAddress !== undefined ? resolveHost(request.localAddress) : target
  const ends = { client: addressOf(sourceHost, allocatePort(network)), server: addressOf(target, port), unix: false }
  return establish(network, listener, request, ends, now)
}

/** A connect to a Unix socket's path: no file, or no listener behind it, as on Node. */
const connectUnix = (network: Network, request: Settings.Connect, path: string, now: number) => {
  const found = takeRefusal(network, undefined) ? "ECONNREFUSED" : Unix.find(network, path)
  if (typeof found === "string") return Effect.fail(Errors.connect(found, request.where))
  return establish(network, found, request, { client: Unix.unnamed, server: found.address, unix: true }, now)
}

export const makeConnect = (network: Network) =>
  Effect.fn("Tcp.connect")(function*(options: ConnectOptions) {
    const request = yield* Settings.connect(options)
    // Errors name the host as asked, as Node's do; addresses are the resolved ones.
    const { host, path, port, timeoutMillis, where } = request
    if (path === undefined && isInvalidHost(host)) return yield* Effect.fail(notFound(host))
    const tls = options.tls === undefined ? undefined : yield* TlsOptions.client(options.tls, host, port)
    const resolved = resolveHost(host)
    const attempt = Effect.gen(function*() {
      if (network.latency > 0) yield* Effect.sleep(network.latency)
      const client = yield* Effect.acquireRelease(
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.suspend(() =>
            path !== undefined ? connectUnix(network, request, path, now) : connectInet(network, request, resolved, now)
          )),
        (client, exit) =>
          closeEffect(network, client, exit)
      )
      const watching = watch(network, client, request.idleTimeoutMillis)
      if (watching !== undefined) {
        yield* Effect.forkScoped(watching)
      }
      return client
    })
    const client = timeoutMillis === undefined ? yield* attempt : yield* Effect.timeoutOrElse(attempt, {
      duration: timeoutMillis,
      orElse: () =>
        Effect.fail(Errors.connectTimedOut(where, timeoutMillis))
    })
    if (tls === undefined) return toConnection(network, client)
    return yield* (FakeTls.secure(network, client, tls, OSError.tagsOf.connect) as Effect.Effect<
      Connection,
      OSError.ConnectError
    >)
  })
