import { Reader } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import { Effect } from "effect"

// Length-prefixed messages: a 4-byte big-endian length, then that many bytes.
// A length past the limit (64 KiB) fails with LimitOverrunError before anything is buffered.
export const readMessages = (connection: Connection.Connection, count: number) =>
  Effect.gen(function*() {
    const reader = yield* Reader.make(connection, { limit: 64 * 1024 })
    const messages: Array<string> = []
    for (let i = 0; i < count; i++) {
      const header = yield* reader.readExactly(4) // IncompleteReadError if the peer ends mid-header
      const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
      const body = yield* reader.readExactly(length)
      messages.push(new TextDecoder().decode(body))
    }
    return messages
  })
