// Lines as Tokio's `LinesCodec`: `\n` ends a line, a `\r` before it is dropped,
// a last line without `\n` is emitted at the end. Lines are split on bytes
// (0x0A never occurs inside a multi-byte UTF-8 character) and decoded whole,
// so a character cut between two chunks is joined before decoding.
import { LimitOverrunError } from "../../StreamError.ts"
import type { Codec } from "./transform.ts"

const LF = 0x0a
const CR = 0x0d

/** A line's bytes, copied once out of the chunks it spans. */
const join = (pieces: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  const line = new Uint8Array(length)
  let offset = 0
  for (const piece of pieces) {
    line.set(piece, offset)
    offset += piece.length
  }
  return line
}

const lastOf = (bytes: Uint8Array): number => bytes[bytes.length - 1]

/**
 * The line decoder. It holds the start of an unfinished line as the chunks'
 * own subarrays (at most `maxLength + 1` bytes of them: one more for a `\r`
 * that a `\n` may follow) and fails as soon as the line cannot fit.
 */
export const lineDecoder = (maxLength: number) => {
  // The line is too long: `consumed` counts its bytes up to the one that proved
  // it (the first past the limit, or the one after a `\r` at the limit), so the
  // error does not depend on how the bytes were cut into chunks.
  const overrun = (atLimit: number): LimitOverrunError =>
    new LimitOverrunError({
      consumed: maxLength + (atLimit === CR ? 2 : 1),
      limit: maxLength,
      what: "a line"
    })

  return (): Codec<Uint8Array, string, LimitOverrunError> => {
    // `ignoreBOM`: a U+FEFF at the start of a line is the line's, not a byte order mark to drop.
    const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
    let pieces: Array<Uint8Array> = []
    let pending = 0

    // The byte at index `maxLength` of the line whose first `pending` bytes are
    // held and whose rest starts at `chunk[start]`.
    const byteAtLimit = (chunk: Uint8Array, start: number): number =>
      maxLength < pending ? CR : chunk[start + maxLength - pending]

    const emit = (chunk: Uint8Array, start: number, end: number, out: Array<string>): LimitOverrunError | undefined => {
      let length = pending + end - start
      const lastByte = end > start ? chunk[end - 1] : pending > 0 ? lastOf(pieces[pieces.length - 1]) : undefined
      if (lastByte === CR) length--
      if (length > maxLength) return overrun(byteAtLimit(chunk, start))
      if (pending === 0) {
        out.push(decoder.decode(chunk.subarray(start, start + length)))
      } else {
        pieces.push(chunk.subarray(start, end))
        out.push(decoder.decode(join(pieces, pending + end - start).subarray(0, length)))
        pieces = []
        pending = 0
      }
      return undefined
    }

    const hold = (chunk: Uint8Array, start: number): LimitOverrunError | undefined => {
      const rest = chunk.length - start
      if (rest === 0) return undefined
      const total = pending + rest
      if (total > maxLength) {
        const atLimit = byteAtLimit(chunk, start)
        if (total > maxLength + 1 || atLimit !== CR) return overrun(atLimit)
      }
      pieces.push(start === 0 ? chunk : chunk.subarray(start))
      pending = total
      return undefined
    }

    return {
      push: (batch, out) => {
        for (const chunk of batch) {
          let start = 0
          let newline = chunk.indexOf(LF)
          while (newline !== -1) {
            const error = emit(chunk, start, newline, out)
            if (error !== undefined) return error
            start = newline + 1
            newline = chunk.indexOf(LF, start)
          }
          const error = hold(chunk, start)
          if (error !== undefined) return error
        }
        return undefined
      },
      end: (out) => (pending > 0 ? emit(new Uint8Array(0), 0, 0, out) : undefined)
    }
  }
}

/** Where a line to send has a `\n`, or -1. */
export const newlineIn = (line: string): number => line.indexOf("\n")

/**
 * The line encoder's batch: every line and its `\n` in one chunk, one
 * encoding for the batch. A line with a `\n` of its own stops the batch there
 * (see `NewlineInLineError` in `Framing.ts` for why).
 */
export const lineEncoder = <X>(invalid: (line: string, index: number) => X) => (): Codec<string, Uint8Array, X> => {
  const encoder = new TextEncoder()
  return {
    push: (batch, out) => {
      let valid = 0
      let error: X | undefined
      for (; valid < batch.length; valid++) {
        const index = newlineIn(batch[valid])
        if (index !== -1) {
          error = invalid(batch[valid], index)
          break
        }
      }
      if (valid > 0) {
        out.push(encoder.encode((valid === batch.length ? batch : batch.slice(0, valid)).join("\n") + "\n"))
      }
      return error
    },
    end: () => undefined
  }
}
