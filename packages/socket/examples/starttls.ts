import { Reader, Tls } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import { Effect } from "effect"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

// STARTTLS as SMTP does it: a plaintext command and its answer, then TLS on the same connection.
// Each side reads the plaintext exactly (line by line) up to the upgrade, and uses only the
// connection startTls returns after it.
export const upgradeClient = (plain: Connection.Connection, ca: string) =>
  Effect.gen(function*() {
    const lines = yield* Reader.make(plain)
    yield* plain.write("STARTTLS\r\n")
    const answer = text(yield* lines.readLine)
    if (!answer.startsWith("220 ")) return yield* Effect.fail(`STARTTLS refused: ${answer.trim()}`)
    return yield* Tls.startTls(plain, { role: "client", ca })
  })

export const upgradeServer = (
  plain: Connection.Connection,
  certificate: { readonly cert: Tls.Pem; readonly key: Tls.Pem }
) =>
  Effect.gen(function*() {
    const lines = yield* Reader.make(plain)
    const command = text(yield* lines.readLine)
    if (command !== "STARTTLS\r\n") return yield* Effect.fail(`expected STARTTLS, got ${command.trim()}`)
    yield* plain.write("220 Ready to start TLS\r\n")
    return yield* Tls.startTls(plain, { role: "server", ...certificate })
  })
