// The PROXY protocol's header parser and options, beside the contract
// (contract-proxy.ts runs them on both layers): the headers written by hand in
// proxyHeaders.ts parse to what they say, any start of one asks for more (so
// however a header is cut it is read whole), anything else is malformed at its
// first wrong byte, and the error and option checks read as documented.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Header from "../src/internal/proxy/header.ts"
import * as ProxyOptions from "../src/internal/proxy/options.ts"
import * as OSError from "../src/OSError.ts"
import * as ProxyProtocol from "../src/ProxyProtocol.ts"
import { proxyHeader, v1, v2, v2Signature } from "./proxyHeaders.ts"
import { concat, encode } from "./util.ts"

const client = { family: "IPv4", host: "203.0.113.7", port: 51234 } as const
const front = { family: "IPv4", host: "198.51.100.1", port: 443 } as const

const parsedHeader = (bytes: Uint8Array): Header.Header => {
  const parsed = Header.parse(bytes)
  if (parsed === undefined || "malformed" in parsed) throw new Error(`not a header: ${JSON.stringify(parsed)}`)
  return parsed
}

describe("ProxyProtocol header", () => {
  it("property: a header followed by anything parses to what it says, and takes its own bytes only", () => {
    fc.assert(
      fc.property(proxyHeader, fc.uint8Array({ maxLength: 200 }), (sent, after) => {
        const parsed = parsedHeader(concat([sent.bytes, after]))
        assert.deepStrictEqual(parsed, {
          version: sent.version,
          command: "PROXY",
          source: sent.source,
          destination: sent.destination,
          length: sent.bytes.length
        })
      }),
      { numRuns: 500 }
    )
  })

  it("property: every start of a header asks for more bytes, never calls it malformed", () => {
    fc.assert(
      fc.property(proxyHeader, fc.nat(), (sent, at) => {
        const cut = at % sent.bytes.length
        assert.isUndefined(Header.parse(sent.bytes.subarray(0, cut)), `${cut} of ${sent.bytes.length} bytes`)
      }),
      { numRuns: 500 }
    )
  })

  it("property: bytes that start like no signature are malformed at the first byte that differs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (bytes) => {
        const first = bytes[0]
        fc.pre(first !== 0x50 && first !== 0x0d)
        const parsed = Header.parse(bytes.subarray(0, 1))
        assert.isDefined(parsed)
        assert.include((parsed as Header.Malformed).malformed, "no signature at the start")
      })
    )
    assert.deepStrictEqual(Header.parse(encode("PROXZ")), {
      malformed: `no signature at the start: "PROXZ"`
    })
    assert.include(
      (Header.parse(concat([v2Signature.subarray(0, 5), encode("x")])) as Header.Malformed).malformed,
      `"\\r\\n\\r\\n\\x00x"`
    )
  })

  it("a version 2 header says its length at once: one over the bound is malformed before its body comes", () => {
    const over = v2({ length: Header.maxV2Bytes - 15 }).subarray(0, 16)
    assert.deepStrictEqual(Header.parse(over), {
      malformed: `a version 2 header of ${Header.maxV2Bytes + 1} bytes is over the limit of ${Header.maxV2Bytes}`
    })
    const largest = v2({ length: Header.maxV2Bytes - 16 })
    assert.isUndefined(Header.parse(largest.subarray(0, 16)))
    assert.strictEqual(
      parsedHeader(concat([largest, new Uint8Array(Header.maxV2Bytes - 16)])).length,
      Header.maxV2Bytes
    )
  })

  it("version 1 is at most 107 bytes with its CRLF: the longest there is parses, one byte more does not", () => {
    const longest =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
    assert.strictEqual(longest.length, 104)
    assert.strictEqual(parsedHeader(encode(longest)).length, 104)
    const unknown = `PROXY UNKNOWN ${"x".repeat(107 - 16)}\r\n`
    assert.strictEqual(unknown.length, 107)
    assert.strictEqual(parsedHeader(encode(unknown)).length, 107)
    assert.isUndefined(Header.parse(encode(unknown.slice(0, 106))))
    assert.deepStrictEqual(Header.parse(encode(`PROXY UNKNOWN ${"x".repeat(107 - 15)}\r\n`)), {
      malformed: "a version 1 header has no CRLF within 107 bytes"
    })
  })

  it("addresses are reported as the Node layer reports peers: IPv6 canonical, IPv4-mapped as IPv4", () => {
    const parsed = parsedHeader(encode("PROXY TCP6 2001:DB8:0:0:0:0:0:7 ::FFFF:198.51.100.1 1 2\r\n"))
    assert.deepStrictEqual(parsed.source, { family: "IPv6", host: "2001:db8::7", port: 1 })
    assert.deepStrictEqual(parsed.destination, { family: "IPv4", host: "198.51.100.1", port: 2 })
    const mapped = parsedHeader(v2({
      source: { family: "IPv6", host: "::ffff:10.0.0.1", port: 80 },
      destination: { family: "IPv6", host: "::", port: 81 }
    }))
    assert.deepStrictEqual(mapped.source, { family: "IPv4", host: "10.0.0.1", port: 80 })
    assert.deepStrictEqual(mapped.destination, { family: "IPv6", host: "::", port: 81 })
  })

  it("quote shows a person the first bytes: printable ASCII as it is, the rest escaped", () => {
    assert.strictEqual(Header.quote(encode(`a"b\\c\r\n`)), `"a\\"b\\\\c\\r\\n"`)
    assert.strictEqual(Header.quote(Uint8Array.from([0, 0x7f, 0xff])), `"\\x00\\x7f\\xff"`)
    assert.strictEqual(Header.quote(encode("x".repeat(20))), `"${"x".repeat(16)}..."`)
  })

  it("the encoders agree with the protocol's own example", () => {
    assert.strictEqual(
      new TextDecoder().decode(v1(client, front)),
      "PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n"
    )
    assert.deepStrictEqual(
      Array.from(v2({ source: client, destination: front }).subarray(12, 16)),
      [0x21, 0x11, 0x00, 0x0c]
    )
  })
})

describe("ProxyProtocol options and errors", () => {
  it("trusted takes CIDR ranges and single addresses of both families", () => {
    const resolved = ProxyOptions.resolve({ trusted: ["10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1"] })
    assert.notStrictEqual(typeof resolved, "string")
    const options = resolved as ProxyOptions.Resolved
    const at = (host: string) =>
      ProxyOptions.isTrusted(options, { family: host.includes(":") ? "IPv6" : "IPv4", host, port: 1 })
    assert.isTrue(at("10.255.0.1"))
    assert.isTrue(at("192.0.2.7"))
    assert.isFalse(at("192.0.2.8"))
    assert.isTrue(at("fd12::1"))
    assert.isTrue(at("::1"))
    assert.isFalse(at("::2"))
    assert.isFalse(at("11.0.0.1"))
    assert.isFalse(at("unknown"), "an address Node could not read is trusted by no range")
    assert.strictEqual(options.headerTimeoutMillis, 5_000)
    const timed = ProxyOptions.resolve({ trusted: ["::/0"], headerTimeout: "250 millis" }) as ProxyOptions.Resolved
    assert.strictEqual(timed.headerTimeoutMillis, 250)
  })

  it("a bad range, an empty list or a timeout that is not above zero is named", () => {
    assert.strictEqual(
      ProxyOptions.resolve({ trusted: ["10.0.0.0/8", " 10.0.0.0/8"] }),
      `proxyProtocol.trusted: " 10.0.0.0/8" is not a CIDR range: expected exactly four decimal octets`
    )
    assert.include(ProxyOptions.resolve({ trusted: ["fe80::1%eth0"] }) as string, `"fe80::1%eth0" is not a CIDR range`)
    assert.include(ProxyOptions.resolve({ trusted: ["::1/129"] }) as string, "prefix length")
    assert.include(ProxyOptions.resolve({ trusted: undefined as never }) as string, "must list at least one")
    assert.include(ProxyOptions.resolve({ trusted: ["::1"], headerTimeout: "-1 seconds" }) as string, "above zero")
    assert.include(ProxyOptions.resolve({ trusted: ["::1"], headerTimeout: "soon" as never }) as string, "above zero")
  })

  it("checkTrusted says before listen what listen would refuse, and nothing for good ranges", () => {
    assert.isUndefined(ProxyProtocol.checkTrusted(["10.0.0.0/8", "127.0.0.1", "::1/128", "fd00::/8"]))
    assert.strictEqual(
      ProxyProtocol.checkTrusted(["10.0.0.0/8", "10.0.0.1/8"]),
      ProxyOptions.resolve({ trusted: ["10.0.0.0/8", "10.0.0.1/8"] })
    )
    assert.include(ProxyProtocol.checkTrusted(["10.0.0.1/8"]), `"10.0.0.1/8" is not a CIDR range`)
    assert.include(ProxyProtocol.checkTrusted([]), "must list at least one")
  })

  it("ProxyHeaderError: OSError's fields and message form, its own brand", () => {
    const error = ProxyOptions.malformed({ family: "IPv6", host: "::1", port: 4000 }, `no signature at the start: "hi"`)
    assert.strictEqual(error.code, "EPROTO")
    assert.strictEqual(error.errno, OSError.errnoOf("EPROTO"))
    assert.strictEqual(
      error.message,
      `[Errno ${
        OSError.errnoOf("EPROTO")
      }] Protocol error: malformed PROXY protocol header: no signature at the start: "hi" ([::1]:4000)`
    )
    assert.isTrue(ProxyProtocol.isProxyHeaderError(error))
    assert.isFalse(OSError.isOSError(error))
    assert.isFalse(ProxyProtocol.isProxyHeaderError({ _tag: "ProxyHeaderError" }))
    const timeout = ProxyOptions.timedOut({ family: "IPv4", host: "10.0.0.1", port: 5 }, 1500)
    assert.isTrue(OSError.isOSError(timeout))
    assert.strictEqual(
      timeout.message,
      `[Errno ${OSError.errnoOf("ETIMEDOUT")}] Connection timed out: no PROXY protocol header within 1.5s (10.0.0.1:5)`
    )
  })
})
