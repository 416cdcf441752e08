// PROXY protocol headers for the tests, written from HAProxy's proxy-protocol.txt
// (not from the library's parser): version 1's text and version 2's binary
// form, with fast-check arbitraries of both.
import * as NetAddress from "effect/net/NetAddress"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import type { InetAddress } from "../src/Address.ts"

/** Version 2's 12-byte signature. */
export const v2Signature = Uint8Array.from([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a
])

const text = (value: string): Uint8Array => new TextEncoder().encode(value)

/** `PROXY TCP4 <source> <destination> <source port> <destination port>\r\n` (TCP6 for IPv6). */
export const v1 = (source: InetAddress, destination: InetAddress): Uint8Array =>
  text(
    `PROXY ${
      source.family === "IPv4" ? "TCP4" : "TCP6"
    } ${source.host} ${destination.host} ${source.port} ${destination.port}\r\n`
  )

/** `PROXY UNKNOWN\r\n`, with what a sender may put after it. */
export const v1Unknown = (rest = ""): Uint8Array => text(`PROXY UNKNOWN${rest}\r\n`)

const octets = (address: InetAddress): ReadonlyArray<number> => {
  const parsed = NetAddress.ipFromString(address.host)
  if (Result.isFailure(parsed)) throw new Error(`not an address: ${address.host}`)
  const ip = parsed.success
  return NetAddress.isIpv4Address(ip) ? NetAddress.ipv4ToOctets(ip) : NetAddress.ipv6ToOctets(ip)
}

/** A TLV: type, 2-byte length, value. */
export const tlv = (type: number, value: Uint8Array): Uint8Array =>
  Uint8Array.from([type, value.length >> 8, value.length & 0xff, ...value])

export interface V2Options {
  readonly command?: "LOCAL" | "PROXY" | undefined
  /** The addresses (TCP over their family); none for UNSPEC. */
  readonly source?: InetAddress | undefined
  readonly destination?: InetAddress | undefined
  /** Byte 14 as it is, instead of the addresses' family and TCP. */
  readonly familyAndTransport?: number | undefined
  /** The address block as it is, instead of the addresses'. */
  readonly addresses?: Uint8Array | undefined
  readonly tlvs?: ReadonlyArray<Uint8Array> | undefined
  /** Byte 13 as it is (version and command). */
  readonly versionAndCommand?: number | undefined
  /** The length field as it is, instead of what follows. */
  readonly length?: number | undefined
}

/** A version 2 header: signature, version and command, family and transport, length, addresses, TLVs. */
export const v2 = (options: V2Options = {}): Uint8Array => {
  const { destination, source } = options
  const family = source === undefined ? 0x00 : source.family === "IPv4" ? 0x10 : 0x20
  const addresses = options.addresses ?? (source === undefined || destination === undefined
    ? new Uint8Array(0)
    : Uint8Array.from([
      ...octets(source),
      ...octets(destination),
      source.port >> 8,
      source.port & 0xff,
      destination.port >> 8,
      destination.port & 0xff
    ]))
  const tlvs = (options.tlvs ?? []).flatMap((bytes) => [...bytes])
  const length = options.length ?? addresses.length + tlvs.length
  const command = options.versionAndCommand ?? (options.command === "LOCAL" ? 0x20 : 0x21)
  const familyAndTransport = options.familyAndTransport ?? (family === 0 ? 0x00 : family | 0x01)
  return Uint8Array.from([
    ...v2Signature,
    command,
    familyAndTransport,
    length >> 8,
    length & 0xff,
    ...addresses,
    ...tlvs
  ])
}

// --- arbitraries ---------------------------------------------------------------

const port = fc.integer({ min: 0, max: 65535 })

const ipv4 = fc.ipV4().map((host): InetAddress["host"] => host)

/** An IPv6 address in its canonical text (as Node and the library write it). */
const ipv6 = fc.ipV6().map((host) => {
  const parsed = NetAddress.ipv6FromString(host)
  return Result.isSuccess(parsed) ? NetAddress.formatIp(parsed.success) : "::1"
}).filter((host) => !host.startsWith("::ffff:") || !host.includes("."))

/** Two addresses of one family, as a header carries them. */
export const addressPair: fc.Arbitrary<readonly [InetAddress, InetAddress]> = fc.oneof(
  fc.tuple(ipv4, ipv4, port, port).map(([a, b, p, q]) =>
    [{ family: "IPv4", host: a, port: p }, { family: "IPv4", host: b, port: q }] as const
  ),
  fc.tuple(ipv6, ipv6, port, port).map(([a, b, p, q]) =>
    [{ family: "IPv6", host: a, port: p }, { family: "IPv6", host: b, port: q }] as const
  )
)

/** A header naming a client, and what it names. */
export interface Sent {
  readonly bytes: Uint8Array
  readonly version: 1 | 2
  readonly source: InetAddress
  readonly destination: InetAddress
}

const anyTlv = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([type, value]) =>
  tlv(type, value)
)

/** Version 1 or 2 (with TLVs, which are skipped), naming a client. */
export const proxyHeader: fc.Arbitrary<Sent> = fc.tuple(addressPair, fc.boolean(), fc.array(anyTlv, { maxLength: 4 }))
  .map(([[source, destination], textual, tlvs]) => ({
    bytes: textual ? v1(source, destination) : v2({ source, destination, tlvs }),
    version: textual ? 1 : 2,
    source,
    destination
  }))
