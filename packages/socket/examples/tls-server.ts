import { Address, Tcp } from "@effect-tcp/socket"
import type { Tls } from "@effect-tcp/socket"
import { Effect } from "effect"
import { echo } from "./echo-server.ts"

// The echo over TLS: each handler gets its connection once the handshake is done. A client whose
// handshake fails (plaintext on this port, a bad certificate, too slow) is logged with its typed error.
// Serves until its scope closes; `cert` and `key` are PEM, e.g. `readFileSync("server.pem")`.
export const tlsEchoServer = (port: number, certificate: { readonly cert: Tls.Pem; readonly key: Tls.Pem }) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen({ port, tls: { ...certificate, handshakeTimeout: "5 seconds" } })
    yield* Effect.log(`Serving TLS on ${Address.format(server.address)}`)
    yield* Effect.forkScoped(server.serve(echo))
    return server.address
  })
