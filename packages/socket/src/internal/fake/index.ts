// The in-memory implementation of the Tcp service: `Tcp.layerTest`. Nothing
// touches the OS; everything runs on the Clock. The rooms:
//   wire.ts      segments, flows and links: delivery, settling and waiting
//   endpoint.ts  one end of a connection and the `Connection` it offers
//   hosts.ts     addresses, name resolution, ports, listener lookup, refusals
//   connect.ts   the handshake that pairs two ends
//   listener.ts  listen, accept, serve, the idle watch and shutdown
//   network.ts   the network's state and its fault script (`FakeNetwork`)
//   tls.ts       node:tls over an end's wire: TLS connections, STARTTLS
import * as Effect from "effect/Effect"
import type { FakeNetwork } from "../../FakeNetwork.ts"
import type { Tcp } from "../../Tcp.ts"
import { makeConnect } from "./connect.ts"
import { makeListen } from "./listener.ts"
import { faults, Network } from "./network.ts"
import { makeStartTls } from "./tls.ts"

export const make: Effect.Effect<{ readonly tcp: Tcp["Service"]; readonly network: FakeNetwork["Service"] }> = Effect
  .sync(() => {
    const network = new Network()
    return {
      tcp: {
        connect: makeConnect(network),
        listen: makeListen(network) as Tcp["Service"]["listen"],
        startTls: makeStartTls(network)
      },
      network: faults(network)
    }
  })
