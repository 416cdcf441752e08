import { Tcp } from "@effect-tcp/socket"
import { Effect, Stream } from "effect"

// The client over TLS: the server's certificate is verified against `ca` (Node's default CAs when
// left out) and against the host's name, before `connect` succeeds.
export const tlsHello = (host: string, port: number, ca?: string) =>
  Effect.gen(function*() {
    const connection = yield* Tcp.connect({ host, port, tls: ca === undefined ? true : { ca } })
    yield* Effect.log(`${connection.tls?.protocol} with ${connection.tls?.peerCertificate?.subject}`)
    yield* connection.write("Hello TLS!")
    yield* connection.end // close_notify, then FIN: the server reads its end, and still answers
    return yield* connection.stream.pipe(Stream.decodeText(), Stream.mkString)
  }).pipe(
    Effect.scoped,
    Effect.catchTag("SSLCertVerificationError", (error) => Effect.succeed(`not trusted (${error.reason})`))
  )
