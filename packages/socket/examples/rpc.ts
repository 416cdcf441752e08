import { EffectSocket } from "@effect-tcp/socket"
import { Effect, Layer, Schema } from "effect"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "effect/rpc"

// The protocol, shared by server and client: one procedure.
export class Greeter extends RpcGroup.make(
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String })
) {}

// The server: Effect's RPC, as newline-delimited JSON, on any SocketServer ...
export const GreeterLive = RpcServer.layer(Greeter).pipe(
  Layer.provide(Greeter.toLayer({ Greet: ({ name }) => Effect.succeed(`Hello, ${name}!`) })),
  Layer.provide(RpcServer.layerProtocolSocketServer),
  Layer.provide(RpcSerialization.layerNdjson)
)

// ... here on the connections of Tcp.listen.
export const greeterServer = (port: number) =>
  GreeterLive.pipe(Layer.provide(EffectSocket.layerServer({ host: "127.0.0.1", port })))

// The client's transport: a new connection through Tcp.connect whenever the last one was lost.
export const greeterProtocol = (port: number) =>
  RpcClient.layerProtocolSocket({ retryTransientErrors: true }).pipe(
    Layer.provide([EffectSocket.layer({ host: "127.0.0.1", port, timeout: "5 seconds" }), RpcSerialization.layerNdjson])
  )

export const greet = (port: number, name: string) =>
  Effect.gen(function*() {
    const client = yield* RpcClient.make(Greeter)
    return yield* client.Greet({ name })
  }).pipe(Effect.scoped, Effect.provide(greeterProtocol(port)))
