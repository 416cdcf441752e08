// `effect/socket`'s `SocketServer` over `Tcp.listen`, so that `RpcServer.layerProtocolSocketServer` (and anything
// else written against `SocketServer`) serves on either layer of the Tcp service.
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as Address from "../../Address.ts"
import { Tcp } from "../../Tcp.ts"
import type { ListenOptions } from "../../Tcp.ts"
import * as Adapter from "./adapter.ts"

const openError = (cause: unknown): SocketServer.SocketServerError =>
  new SocketServer.SocketServerError({ reason: new SocketServer.SocketServerOpenError({ cause }) })

export const make = (
  options?: ListenOptions
): Effect.Effect<SocketServer.SocketServer["Service"], SocketServer.SocketServerError, Tcp | Scope.Scope> =>
  Effect.gen(function*() {
    const tcp = yield* Tcp
    const server = yield* Effect.mapError(tcp.listen(options), openError)
    const address = Address.toNetAddress(server.address)
    if (Result.isFailure(address)) return yield* Effect.fail(openError(address.failure))

    // A handler of `run` serves a connection until the peer goes (an RPC connection has no end of its own):
    // interrupting `run` ends its connections at once, as Node's SocketServer does, rather than waiting out
    // the server's shutdown grace for peers that will not leave.
    const run = <R, E, _>(
      handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
    ): Effect.Effect<never, SocketServer.SocketServerError, R> =>
      Effect.suspend(() => {
        const stopped = Deferred.makeUnsafe<void>()
        return server.serve((connection) =>
          Effect.raceFirst(handler(Adapter.toSocket(connection)), Deferred.await(stopped))
        ).pipe(Effect.onInterrupt(() => Deferred.succeed(stopped, undefined)))
      })

    return SocketServer.SocketServer.of({ address: address.success, run })
  })
