// The PROXY protocol's trusted ranges, parsed with Effect's `effect/net`: what
// `listen` checks before it binds, and what `ProxyProtocol.checkTrusted` offers
// a program that reads the ranges from its command line or config.
import * as IpNetwork from "effect/net/IpNetwork"
import * as NetAddress from "effect/net/NetAddress"
import * as Result from "effect/Result"
import type { InetAddress } from "../../Address.ts"

/** A range in CIDR notation, or one address as a range of one. */
const rangeOf = (text: string): Result.Result<IpNetwork.IpNetwork, NetAddress.NetAddressError> =>
  typeof text === "string" && !text.includes("/")
    ? Result.flatMap(NetAddress.ipFromString(text), (address) => IpNetwork.make(address, NetAddress.width(address)))
    : IpNetwork.fromString(text)

/** The ranges, or the detail of the EINVAL that names the first that is wrong. */
export const parse = (trusted: ReadonlyArray<string>): ReadonlyArray<IpNetwork.IpNetwork> | string => {
  if (!Array.isArray(trusted) || trusted.length === 0) {
    return "proxyProtocol.trusted must list at least one CIDR range (such as \"10.0.0.0/8\")"
  }
  const ranges: Array<IpNetwork.IpNetwork> = []
  for (const text of trusted) {
    const range = rangeOf(text)
    if (Result.isFailure(range)) {
      return `proxyProtocol.trusted: ${JSON.stringify(text)} is not a CIDR range: ${range.failure.message}`
    }
    ranges.push(range.success)
  }
  return ranges
}

/** Is the peer in one of the ranges? (Its host as a layer reports it: an IPv4 peer in its IPv4 form.) */
export const contains = (ranges: ReadonlyArray<IpNetwork.IpNetwork>, peer: InetAddress): boolean => {
  const address = NetAddress.ipFromString(peer.host)
  if (Result.isFailure(address)) return false
  for (const range of ranges) if (IpNetwork.contains(range, address.success)) return true
  return false
}
