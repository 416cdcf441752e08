// The contract suite, run against the Node layer (on loopback) and the fake network.
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Tcp from "../src/Tcp.ts"
import { contractDeadPeers } from "./contract-deadpeers.ts"
import { contractFraming } from "./contract-framing.ts"
import { contractIpv6, ipv6LoopbackMissing } from "./contract-ipv6.ts"
import { contractProxy } from "./contract-proxy.ts"
import { contractReader } from "./contract-reader.ts"
import { contractTls } from "./contract-tls.ts"
import { contractUnix } from "./contract-unix.ts"
import { contract } from "./contract.ts"
import { fakeFixture, nodeFixture } from "./unixFixture.ts"

contract("Node (loopback)", Tcp.layer)
contract("fake network", Tcp.layerTest)
contractReader("Node (loopback)", Tcp.layer, { runs: 40 })
contractReader("fake network", Tcp.layerTest, { runs: 200 })
contractFraming("Node (loopback)", Tcp.layer)
contractFraming("fake network", Tcp.layerTest)
contractUnix("Node", Tcp.layer, nodeFixture)
contractUnix("fake network", Tcp.layerTest, fakeFixture)
contractIpv6("Node (loopback)", Tcp.layer, { unavailable: await ipv6LoopbackMissing() })
contractIpv6("fake network", Tcp.layerTest)
contractDeadPeers("Node (loopback)", Tcp.layer)
contractDeadPeers("fake network", Tcp.layerTest)
contractTls("Node (loopback)", Tcp.layer)
contractTls("fake network", Tcp.layerTest)
contractProxy("Node (loopback)", Tcp.layer, { runs: 30 })
contractProxy("fake network", Tcp.layerTest, { runs: 150 })

const ids = (layer: typeof Tcp.layer) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen()
    const client = yield* Tcp.connect({ port: server.address.port })
    const accepted = yield* server.accept
    return [client.id, accepted.id]
  }).pipe(Effect.scoped, Effect.provide(layer))

it.live("connection ids are unique in the process, across both layers", () =>
  Effect.gen(function*() {
    const all = [...(yield* ids(Tcp.layer)), ...(yield* ids(Tcp.layerTest)), ...(yield* ids(Tcp.layerTest))]
    assert.strictEqual(new Set(all).size, all.length, `ids: ${all.join(", ")}`)
  }).pipe(Effect.timeout("10 seconds")))
