// Addresses on the fake network: name resolution, ephemeral ports, which
// listener a connect reaches, and the refusals a test scripted.
import type { Address } from "../../Address.ts"
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

export const familyOf = (host: string): Address["family"] => host.includes(":") ? "IPv6" : "IPv4"

export const addressOf = (host: string, port: number): Address => ({ host, port, family: familyOf(host) })

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

const hostsOverlap = (a: string, b: string): boolean =>
  a === b || Addresses.isUnspecified(a) || Addresses.isUnspecified(b)

export const allocatePort = (network: Network): number => {
  for (let i = 0; i < 65536 - firstEphemeralPort; i++) {
    const port = network.nextPort
    network.nextPort = port >= 65535 ? firstEphemeralPort : port + 1
    if (!network.listeners.some((listener) => listener.address.port === port)) return port
  }
  return network.nextPort
}

/** Another listener holds the port, and not both asked for SO_REUSEPORT. */
export const portTaken = (network: Network, host: string, port: number, reusePort: boolean): boolean =>
  port !== 0 &&
  network.listeners.some((other) =>
    other.address.port === port && hostsOverlap(other.address.host, host) &&
    !(other.options.reusePort && reusePort)
  )

/** Takes one scripted refusal for a connect to `port`, if there is one. */
export const takeRefusal = (network: Network, port: number): boolean => {
  const index = network.refusals.findIndex((refusal) => refusal.port === undefined || refusal.port === port)
  if (index < 0) return false
  const refusal = network.refusals[index]!
  refusal.remaining--
  if (refusal.remaining <= 0) network.refusals.splice(index, 1)
  return true
}

export const findListener = (network: Network, host: string, port: number): Listener | undefined => {
  const matches = network.listeners.filter((listener) =>
    listener.address.port === port && hostsOverlap(listener.address.host, host)
  )
  if (matches.length <= 1) return matches[0]
  // SO_REUSEPORT: the kernel spreads connections over the listeners sharing the port.
  return matches[network.roundRobin++ % matches.length]
}
