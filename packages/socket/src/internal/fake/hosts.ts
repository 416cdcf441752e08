// Addresses on the fake network: name resolution, ephemeral ports, which
// listener a connect reaches, and the refusals a test scripted.
import type { InetAddress } from "../../Address.ts"
import * as Addresses from "../../Address.ts"
import * as OSError from "../../OSError.ts"
import type { Listener } from "./listener.ts"
import type { Network } from "./network.ts"

export const firstEphemeralPort = 49152

/** `refuseNext`: connects (to any port, or to `port`) still to refuse. */
export interface Refusal {
  readonly port: number | undefined
  remaining: number
}

export const familyOf = (host: string): InetAddress["family"] => host.includes(":") ? "IPv6" : "IPv4"

export const addressOf = (host: string, port: number): InetAddress => ({ host, port, family: familyOf(host) })

/** The loopback address of a host's family: where a connect to `0.0.0.0` or `::` goes. */
export const loopbackOf = (host: string): string => familyOf(host) === "IPv6" ? "::1" : "127.0.0.1"

/** Reserved by RFC 6761: never resolves, on any network. */
export const isInvalidHost = (host: string): boolean => {
  const name = host.toLowerCase().replace(/\.$/, "")
  return name === "invalid" || name.endsWith(".invalid")
}

/** What a lookup of a `.invalid` host fails with (named as asked, as Node's errors are). */
export const notFound = (host: string): OSError.AddressResolutionError | OSError.OSError =>
  OSError.fromCode("ENOTFOUND", { syscall: "getaddrinfo", host }, { allowed: ["AddressResolutionError"] })

export const resolveHost = (host: string): string => {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, "$1")
  return name === "" || name === "localhost" ? "127.0.0.1" : name
}

/** What a TCP listener is bound to: `ipv6Only` keeps a listener on `::` from IPv4. */
interface Bound {
  readonly host: string
  readonly ipv6Only: boolean
}

/** A dual-stack listener: on `::`, taking IPv4 connections too. */
const dualStack = (bound: Bound): boolean => bound.host === "::" && !bound.ipv6Only

/** Would two binds of one port collide (as on Linux)? Within a family, a wildcard takes every host of it. */
const hostsOverlap = (a: Bound, b: Bound): boolean => {
  if (familyOf(a.host) !== familyOf(b.host)) return dualStack(a) || dualStack(b)
  return a.host === b.host || Addresses.isUnspecified(a.host) || Addresses.isUnspecified(b.host)
}

/** Does a listener bound there take a connection to `host`? */
const takes = (bound: Bound, host: string): boolean =>
  familyOf(bound.host) === familyOf(host)
    ? bound.host === host || Addresses.isUnspecified(bound.host)
    : familyOf(host) === "IPv4" && dualStack(bound)

const boundOf = (listener: Listener): Bound & { readonly port: number } => {
  const address = listener.address as InetAddress
  return { host: address.host, port: address.port, ipv6Only: listener.options.ipv6Only }
}

export const allocatePort = (network: Network): number => {
  for (let i = 0; i < 65536 - firstEphemeralPort; i++) {
    const port = network.nextPort
    network.nextPort = port >= 65535 ? firstEphemeralPort : port + 1
    if (!network.listeners.some((listener) => boundOf(listener).port === port)) return port
  }
  return network.nextPort
}

/** Another listener holds the port, and not both asked for SO_REUSEPORT. */
export const portTaken = (network: Network, bound: Bound, port: number, reusePort: boolean): boolean =>
  port !== 0 &&
  network.listeners.some((other) =>
    boundOf(other).port === port && hostsOverlap(boundOf(other), bound) && !(other.options.reusePort && reusePort)
  )

/** Takes one scripted refusal for a connect to `port` (none: a Unix socket's path), if there is one. */
export const takeRefusal = (network: Network, port: number | undefined): boolean => {
  const index = network.refusals.findIndex((refusal) => refusal.port === undefined || refusal.port === port)
  if (index < 0) return false
  const refusal = network.refusals[index]!
  refusal.remaining--
  if (refusal.remaining <= 0) network.refusals.splice(index, 1)
  return true
}

export const findListener = (network: Network, host: string, port: number): Listener | undefined => {
  const matches = network.listeners.filter((listener) =>
    boundOf(listener).port === port && takes(boundOf(listener), host)
  )
  if (matches.length <= 1) return matches[0]
  // SO_REUSEPORT: the kernel spreads connections over the listeners sharing the port.
  return matches[network.roundRobin++ % matches.length]
}
