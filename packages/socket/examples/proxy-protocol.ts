import { Address, Tcp } from "@effect-tcp/socket"
import { Effect } from "effect"
import { echo } from "./echo-server.ts"

// Behind a load balancer that sends the PROXY protocol (HAProxy's `send-proxy-v2`, an AWS NLB), only
// the balancers may connect. Each handler gets its connection once the header is read: `remoteAddress`
// is the client's (and the `peer` its logs carry), `proxy.address` the balancer's. A missing, malformed
// or late header is logged with its typed error; a health check (`LOCAL`) comes from the balancer itself.
export const proxiedEchoServer = (port: number, balancers: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen({ port, proxyProtocol: { trusted: balancers, headerTimeout: "3 seconds" } })
    yield* Effect.forkScoped(server.serve((connection) =>
      Effect.gen(function*() {
        const client = Address.format(connection.remoteAddress)
        yield* Effect.log(connection.proxy?.command === "LOCAL" ? "Health check" : `Client ${client}`)
        yield* connection.write(`hello ${client}\n`)
        yield* echo(connection)
      })
    ))
    return server.address
  })
