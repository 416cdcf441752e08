// Addresses: formatting every kind, the guards, and the conversions to and from
// Effect's NetAddress.
import { assert, describe, it } from "@effect/vitest"
import { Equal, Result } from "effect"
import * as NetAddress from "effect/net/NetAddress"
import * as Address from "../src/Address.ts"

const v4: Address.Address = { family: "IPv4", host: "127.0.0.1", port: 8888 }
const v6: Address.Address = { family: "IPv6", host: "::1", port: 8888 }
const unix: Address.Address = { family: "Unix", path: "/tmp/echo.sock" }
const abstract: Address.Address = { family: "Unix", path: "\0echo" }
const unnamed: Address.Address = { family: "Unix", path: "" }

describe("Address", () => {
  it("format: host:port, [IPv6]:port, the path, @abstract, (unnamed)", () => {
    assert.deepStrictEqual(
      [v4, v6, unix, abstract, unnamed].map(Address.format),
      ["127.0.0.1:8888", "[::1]:8888", "/tmp/echo.sock", "@echo", "(unnamed)"]
    )
    // as before 0.2.0: a host and port without a family
    assert.strictEqual(Address.format({ host: "10.0.0.1", port: 80 }), "10.0.0.1:80")
  })

  it("guards tell IP endpoints from Unix sockets, and abstract names from paths", () => {
    assert.deepStrictEqual([v4, v6, unix].map(Address.isInet), [true, true, false])
    assert.deepStrictEqual([v4, v6, unix].map(Address.isUnix), [false, false, true])
    assert.isTrue(Address.isAbstract("\0echo"))
    assert.isFalse(Address.isAbstract("/tmp/echo.sock"))
  })

  it("toNetAddress and fromNetAddress convert both ways, keeping every field", () => {
    for (const address of [v4, v6, unix, abstract]) {
      const net = Result.getOrThrow(Address.toNetAddress(address))
      assert.isTrue(NetAddress.isSocketAddress(net))
      assert.deepStrictEqual(Address.fromNetAddress(net), address)
    }
    const net = Result.getOrThrow(Address.toNetAddress(v6))
    assert.strictEqual(net._tag, "InetAddressV6")
    assert.isTrue(Equal.equals(net, NetAddress.inetAddressFromIpStringUnsafe("::1", 8888)))
    assert.strictEqual(NetAddress.formatSocketAddress(Result.getOrThrow(Address.toNetAddress(unix))), "/tmp/echo.sock")
  })

  it("toNetAddress fails for a host that is not a numeric IP, as Node reports an unreadable peer", () => {
    assert.isTrue(Result.isFailure(Address.toNetAddress({ family: "IPv4", host: "unknown", port: 0 })))
  })

  it("fromNetAddress keeps an IPv6 scope id in the host", () => {
    const scoped = NetAddress.inetAddressV6(NetAddress.ipFromStringUnsafe("fe80::1") as NetAddress.Ipv6Address, 80, {
      scopeId: 2
    })
    assert.deepStrictEqual(Address.fromNetAddress(Result.getOrThrow(scoped)), {
      family: "IPv6",
      host: "fe80::1%2",
      port: 80
    })
  })
})
