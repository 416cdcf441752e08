// The PROXY protocol's header (HAProxy's proxy-protocol.txt), versions 1 and 2,
// parsed from the bytes a connection received so far, for both layers. A layer
// reads until `parse` answers something other than "more": a header (and how
// many bytes it took: what follows is the connection's), or why the bytes are
// not one. It says so as early as the bytes allow: a connection that starts
// with anything but a signature is malformed at its first byte that differs,
// without waiting for more.
//
// Size bounds: a version 1 header is at most 107 bytes with its CRLF; a version
// 2 header at most `maxV2Bytes`, which its length field says at once. So no
// layer buffers more than that for a header, whatever a peer sends.
import * as NetAddress from "effect/net/NetAddress"
import * as Result from "effect/Result"
import type { InetAddress } from "../../Address.ts"
import type { ProxyInfo } from "../../ProxyProtocol.ts"

/** Version 1's limit, CRLF included ("PROXY TCP6" and two full IPv6 addresses and ports). */
export const maxV1Bytes = 107
/** Version 2's limit, its 16 bytes included: what HAProxy's own buffer takes (tune.bufsize 16 KiB). */
export const maxV2Bytes = 16 * 1024

const v1Prefix = Uint8Array.from([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]) // "PROXY "
const v2Signature = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const v2FixedBytes = 16

/** A whole header: what it said, and the bytes it took. */
export interface Header {
  readonly version: 1 | 2
  readonly command: "PROXY" | "LOCAL"
  readonly source: InetAddress | undefined
  readonly destination: InetAddress | undefined
  readonly length: number
}

/** Not a header: why (the detail of a "malformed" error). */
export interface Malformed {
  readonly malformed: string
}

/** What the bytes so far are: a header, not one, or the start of one (`undefined`: read more). */
export type Parsed = Header | Malformed | undefined

/** What `connection.proxy` says of a header that `peer` sent. */
export const infoOf = (header: Header, peer: InetAddress): ProxyInfo => ({
  address: peer,
  version: header.version,
  command: header.command,
  source: header.source,
  destination: header.destination
})

/** Does `bytes` start as `expected` does, for as many bytes as it has? */
const startsLike = (bytes: Uint8Array, expected: Uint8Array): boolean => {
  const n = Math.min(bytes.length, expected.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== expected[i]) return false
  return true
}

/** The first bytes, quoted for a person: printable ASCII as it is, the rest escaped. */
export const quote = (bytes: Uint8Array, most = 16): string => {
  let text = ""
  for (const byte of bytes.subarray(0, most)) {
    text += byte === 0x0d
      ? "\\r"
      : byte === 0x0a
      ? "\\n"
      : byte === 0x22 || byte === 0x5c
      ? `\\${String.fromCharCode(byte)}`
      : byte >= 0x20 && byte < 0x7f
      ? String.fromCharCode(byte)
      : `\\x${byte.toString(16).padStart(2, "0")}`
  }
  return `"${text}${bytes.length > most ? "..." : ""}"`
}

/** The header at the start of `bytes`, not one, or not known yet. */
export const parse = (bytes: Uint8Array): Parsed => {
  if (bytes.length === 0) return undefined
  if (startsLike(bytes, v1Prefix)) return bytes.length < v1Prefix.length ? undefined : parseV1(bytes)
  if (startsLike(bytes, v2Signature)) return bytes.length < v2FixedBytes ? undefined : parseV2(bytes)
  return { malformed: `no signature at the start: ${quote(bytes)}` }
}

// --- version 1 -----------------------------------------------------------------

const malformed = (detail: string): Malformed => ({ malformed: detail })

const mappedPrefix = "::ffff:"

/** An address as the Node layer reports a peer: an IPv4-mapped IPv6 address in its IPv4 form. */
const inet = (host: string, port: number, family: "IPv4" | "IPv6"): InetAddress =>
  family === "IPv6" && host.startsWith(mappedPrefix) && host.includes(".", mappedPrefix.length)
    ? { family: "IPv4", host: host.slice(mappedPrefix.length), port }
    : { family, host, port }

/** Canonical text of an address of `family` (lower case, `::` compressed), or `undefined`. */
const canonical = (text: string, family: "IPv4" | "IPv6"): string | undefined => {
  const parsed: Result.Result<NetAddress.IpAddress, unknown> = family === "IPv4"
    ? NetAddress.ipv4FromString(text)
    : NetAddress.ipv6FromString(text)
  return Result.isSuccess(parsed) ? NetAddress.formatIp(parsed.success) : undefined
}

/** A port as version 1 writes it: decimal, 0 to 65535, no sign, no leading zero. */
const portOf = (text: string): number | undefined =>
  /^(0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= 65535 ? Number(text) : undefined

const parseV1 = (bytes: Uint8Array): Parsed => {
  const end = bytes.subarray(0, maxV1Bytes).indexOf(0x0a)
  if (end < 0) {
    return bytes.length >= maxV1Bytes
      ? malformed(`a version 1 header has no CRLF within ${maxV1Bytes} bytes`)
      : undefined
  }
  if (bytes[end - 1] !== 0x0d) return malformed("a version 1 header ends with LF, not CRLF")
  const line = Buffer.from(bytes.buffer, bytes.byteOffset, end - 1).toString("latin1")
  const length = end + 1
  const fields = line.split(" ")
  const protocol = fields[1]
  if (protocol === "UNKNOWN") return { version: 1, command: "PROXY", source: undefined, destination: undefined, length }
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    return malformed(
      `a version 1 header's protocol must be TCP4, TCP6 or UNKNOWN: ${quote(bytes.subarray(0, end + 1), 40)}`
    )
  }
  if (fields.length !== 6) {
    return malformed(`a version 1 header has 6 fields: ${quote(bytes.subarray(0, end + 1), 108)}`)
  }
  const family = protocol === "TCP4" ? "IPv4" : "IPv6"
  const [, , sourceText, destinationText, sourcePortText, destinationPortText] = fields as [
    string,
    string,
    string,
    string,
    string,
    string
  ]
  const source = canonical(sourceText, family)
  const destination = canonical(destinationText, family)
  const sourcePort = portOf(sourcePortText)
  const destinationPort = portOf(destinationPortText)
  if (source === undefined) return malformed(`${JSON.stringify(sourceText)} is not an ${family} address`)
  if (destination === undefined) return malformed(`${JSON.stringify(destinationText)} is not an ${family} address`)
  if (sourcePort === undefined) return malformed(`${JSON.stringify(sourcePortText)} is not a port`)
  if (destinationPort === undefined) return malformed(`${JSON.stringify(destinationPortText)} is not a port`)
  return {
    version: 1,
    command: "PROXY",
    source: inet(source, sourcePort, family),
    destination: inet(destination, destinationPort, family),
    length
  }
}

// --- version 2 -----------------------------------------------------------------

/** Address block sizes by family (high nibble of byte 13): AF_INET, AF_INET6, AF_UNIX. */
const addressBytes: Record<number, number> = { 0x1: 12, 0x2: 36, 0x3: 216 }

const ipv4At = (bytes: Uint8Array, at: number): string =>
  `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`

const ipv6At = (bytes: Uint8Array, at: number): string =>
  NetAddress.formatIp(NetAddress.ipv6FromBytesUnsafe(bytes.slice(at, at + 16)))

const portAt = (bytes: Uint8Array, at: number): number => (bytes[at]! << 8) | bytes[at + 1]!

const parseV2 = (bytes: Uint8Array): Parsed => {
  const versionAndCommand = bytes[12]!
  const familyAndTransport = bytes[13]!
  const length = v2FixedBytes + portAt(bytes, 14)
  const version = versionAndCommand >> 4
  const command = versionAndCommand & 0x0f
  if (version !== 2) return malformed(`a binary header's version must be 2, not ${version}`)
  if (command > 1) return malformed(`a version 2 header's command must be LOCAL (0) or PROXY (1), not ${command}`)
  if (length > maxV2Bytes) {
    return malformed(`a version 2 header of ${length} bytes is over the limit of ${maxV2Bytes}`)
  }
  const family = familyAndTransport >> 4
  const transport = familyAndTransport & 0x0f
  if (family > 3 || transport > 2) {
    return malformed(`a version 2 header's family and transport (0x${familyAndTransport.toString(16)}) are unknown`)
  }
  const needed = addressBytes[family] ?? 0
  if (command === 1 && length - v2FixedBytes < needed) {
    return malformed(
      `a version 2 header of ${length - v2FixedBytes} bytes after its 16 is too short for its addresses (${needed})`
    )
  }
  if (bytes.length < length) return undefined
  if (command === 0) return { version: 2, command: "LOCAL", source: undefined, destination: undefined, length }
  // TCP over IPv4 or IPv6; anything else (UNSPEC, UDP, Unix) keeps the real endpoints, as the protocol allows
  if (transport !== 1 || (family !== 1 && family !== 2)) {
    return { version: 2, command: "PROXY", source: undefined, destination: undefined, length }
  }
  const at = v2FixedBytes
  if (family === 1) {
    return {
      version: 2,
      command: "PROXY",
      source: { family: "IPv4", host: ipv4At(bytes, at), port: portAt(bytes, at + 8) },
      destination: { family: "IPv4", host: ipv4At(bytes, at + 4), port: portAt(bytes, at + 10) },
      length
    }
  }
  return {
    version: 2,
    command: "PROXY",
    source: inet(ipv6At(bytes, at), portAt(bytes, at + 32), "IPv6"),
    destination: inet(ipv6At(bytes, at + 16), portAt(bytes, at + 34), "IPv6"),
    length
  }
}
