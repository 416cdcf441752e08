// Length-prefixed frames as Tokio's `LengthDelimitedCodec` (no length
// adjustment): a header of 1, 2 or 4 bytes holding the body's length, then
// the body. A frame inside one chunk is delivered as a subarray of it; a frame
// across chunks is copied once into a buffer of its declared length, which is
// only allocated after the length was checked against the maximum.
import { IncompleteReadError, LimitOverrunError } from "../../StreamError.ts"
import type { Codec } from "./transform.ts"

/** The frame format, with its options checked. */
export interface Format {
  readonly lengthBytes: 1 | 2 | 4
  readonly littleEndian: boolean
  readonly maxFrameLength: number
}

/** The largest body a header of `lengthBytes` can declare. */
export const expressible = (lengthBytes: 1 | 2 | 4): number => 2 ** (8 * lengthBytes) - 1

const readLength = (format: Format, bytes: Uint8Array, at: number): number => {
  switch (format.lengthBytes) {
    case 1:
      return bytes[at]
    case 2:
      return format.littleEndian ? bytes[at] | (bytes[at + 1] << 8) : (bytes[at] << 8) | bytes[at + 1]
    case 4:
      return format.littleEndian
        ? bytes[at] + (bytes[at + 1] << 8) + (bytes[at + 2] << 16) + bytes[at + 3] * 0x1000000
        : bytes[at] * 0x1000000 + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3]
  }
}

/** Writes `length` as a header at `bytes[at]`. */
export const writeLength = (format: Format, length: number, bytes: Uint8Array, at: number): void => {
  for (let i = 0; i < format.lengthBytes; i++) {
    const shift = 8 * (format.littleEndian ? i : format.lengthBytes - 1 - i)
    bytes[at + i] = Math.floor(length / 2 ** shift) & 0xff
  }
}

const tooLong = (length: number, consumed: number, limit: number, what: string): LimitOverrunError =>
  new LimitOverrunError({ consumed, limit, what: `${what} of ${length} bytes` })

/** The frame decoder: a header, then a body, then the next header. */
export const frameDecoder = (format: Format) => (): Codec<Uint8Array, Uint8Array, StreamFailure> => {
  const header = new Uint8Array(format.lengthBytes)
  let headerFilled = 0
  let body: Uint8Array | undefined
  let bodyFilled = 0

  // Reads a frame that starts at `chunk[offset]`; returns where the chunk's rest starts.
  const frameAt = (chunk: Uint8Array, offset: number, out: Array<Uint8Array>): number | LimitOverrunError => {
    let length: number
    if (headerFilled === 0 && chunk.length - offset >= format.lengthBytes) {
      length = readLength(format, chunk, offset)
      offset += format.lengthBytes
    } else {
      const take = Math.min(format.lengthBytes - headerFilled, chunk.length - offset)
      header.set(chunk.subarray(offset, offset + take), headerFilled)
      headerFilled += take
      offset += take
      if (headerFilled < format.lengthBytes) return offset
      headerFilled = 0
      length = readLength(format, header, 0)
    }
    if (length > format.maxFrameLength) return tooLong(length, format.lengthBytes, format.maxFrameLength, "a frame")
    if (chunk.length - offset >= length) {
      out.push(chunk.subarray(offset, offset + length))
      return offset + length
    }
    body = new Uint8Array(length)
    bodyFilled = chunk.length - offset
    body.set(chunk.subarray(offset), 0)
    return chunk.length
  }

  // Continues the body begun in an earlier chunk.
  const bodyAt = (chunk: Uint8Array, offset: number, out: Array<Uint8Array>): number => {
    const frame = body!
    const take = Math.min(frame.length - bodyFilled, chunk.length - offset)
    frame.set(chunk.subarray(offset, offset + take), bodyFilled)
    bodyFilled += take
    if (bodyFilled === frame.length) {
      out.push(frame)
      body = undefined
    }
    return offset + take
  }

  return {
    push: (batch, out) => {
      for (const chunk of batch) {
        let offset = 0
        while (offset < chunk.length) {
          const next = body === undefined ? frameAt(chunk, offset, out) : bodyAt(chunk, offset, out)
          if (typeof next !== "number") return next
          offset = next
        }
      }
      return undefined
    },
    end: () => {
      if (body !== undefined) {
        return new IncompleteReadError({ partial: body.slice(0, bodyFilled), expected: body.length, what: "a frame" })
      }
      if (headerFilled > 0) {
        return new IncompleteReadError({
          partial: header.slice(0, headerFilled),
          expected: format.lengthBytes,
          what: "a frame's length header"
        })
      }
      return undefined
    }
  }
}

type StreamFailure = IncompleteReadError | LimitOverrunError

/** The largest frame the format can send: its maximum, or less if the header cannot say more. */
export const sendLimit = (format: Format): number => Math.min(format.maxFrameLength, expressible(format.lengthBytes))

/** Checks a frame to send: a typed error past the limit, never a length that wraps around. */
export const checkSend = (format: Format, length: number): LimitOverrunError | undefined => {
  const limit = sendLimit(format)
  return length > limit ? tooLong(length, 0, limit, "a frame to send") : undefined
}

/** A body at least this long is sent as its own chunk; shorter ones are copied in with their headers. */
const copyBelow = 16 * 1024

/**
 * The frame encoder's batch: runs of short frames packed with their headers
 * into one chunk; a long body sent as it is, after a header of its own.
 */
export const frameEncoder = (format: Format): () => Codec<Uint8Array, Uint8Array, LimitOverrunError> => {
  // Frames `from` to `to` with their headers, then the header of `long` (sent after, as it is) if given.
  const pack = (frames: ReadonlyArray<Uint8Array>, from: number, to: number, size: number, long?: Uint8Array) => {
    const bytes = new Uint8Array(long === undefined ? size : size + format.lengthBytes)
    let at = 0
    for (let i = from; i < to; i++) {
      writeLength(format, frames[i].length, bytes, at)
      bytes.set(frames[i], at + format.lengthBytes)
      at += format.lengthBytes + frames[i].length
    }
    if (long !== undefined) writeLength(format, long.length, bytes, at)
    return bytes
  }
  return () => ({
    push: (batch, out) => {
      let from = 0
      let size = 0
      for (let i = 0; i < batch.length; i++) {
        const frame = batch[i]
        const error = checkSend(format, frame.length)
        if (error !== undefined) {
          if (size > 0) out.push(pack(batch, from, i, size))
          return error
        }
        if (frame.length < copyBelow) {
          size += format.lengthBytes + frame.length
          continue
        }
        out.push(pack(batch, from, i, size, frame), frame)
        from = i + 1
        size = 0
      }
      if (size > 0) out.push(pack(batch, from, batch.length, size))
      return undefined
    },
    end: () => undefined
  })
}
