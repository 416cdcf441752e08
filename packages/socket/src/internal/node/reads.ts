// Static-buffer reads: the kernel's bytes land in a buffer the connection owns
// and reuses, instead of a fresh allocation per read. Every allocated buffer's
// external memory counts towards V8's next full collection, which in a process
// that loaded Effect walks a large heap; a reused buffer allocates nothing.
// Only `copyTo` reads this way, as only it is done with a chunk before the next
// read: a consumer of `stream` keeps its chunks, which must be fresh memory, and
// a copy out of a reused buffer costs more than Node's own allocation.
//
// Node offers this publicly only for sockets it constructs with `onread`; an
// accepted socket gets the same by setting the three properties that option
// sets and handing the buffer to its handle (`useUserBuffer`), exactly as
// `net.Socket` does for `onread`. Both are found at run time: where either is
// missing (another Node), sockets read as before, through 'data' events.
import * as Net from "node:net"
import { ownerOf } from "./socket.ts"

interface Keys {
  readonly buffer: symbol
  readonly callback: symbol
  readonly generator: symbol
}

const probeCallback = (): boolean => true

/** The properties `onread` sets on a socket, found by constructing one with it. */
const findKeys = (): Keys | undefined => {
  const buffer = Buffer.alloc(1)
  const callback = probeCallback
  try {
    const socket = new Net.Socket({ onread: { buffer, callback } })
    const symbols = Object.getOwnPropertySymbols(socket)
    const owned = socket as unknown as Record<symbol, unknown>
    const keys = {
      buffer: symbols.find((key) => owned[key] === buffer),
      callback: symbols.find((key) => owned[key] === callback),
      generator: symbols.find((key) => key.description === "kBufferGen")
    }
    socket.destroy()
    return keys.buffer !== undefined && keys.callback !== undefined && keys.generator !== undefined
      ? keys as Keys
      : undefined
  } catch {
    return undefined
  }
}

// undefined: not looked for yet; null: this Node has none.
let keys: Keys | null | undefined

// Node calls the callback as a method of the socket, then the generator as a plain function, at once,
// from the same libuv read: the socket the callback saw is the generator's. One pair for every socket.
let reading: Net.Socket | undefined

function onRead(this: Net.Socket, bytes: number, buffer: Buffer): boolean {
  // oxlint-disable-next-line typescript/no-this-alias -- Node hands the generator no socket: this is how it finds it
  reading = this
  return ownerOf(this).onRead(bytes, buffer)
}
function nextBuffer(): Buffer | undefined {
  const socket = reading
  reading = undefined
  return socket === undefined ? undefined : ownerOf(socket).readBuffer()
}

interface Handle {
  readonly useUserBuffer?: (buffer: Uint8Array) => void
}

/**
 * Makes the socket's reads land in its owner's buffer, from the next read on; `false` where this
 * Node offers no way to (the socket then reads through 'data' events).
 */
export const readIntoOwnBuffer = (socket: Net.Socket): boolean => {
  if (keys === undefined) keys = findKeys() ?? null
  const handle = (socket as unknown as { readonly _handle?: Handle | null })._handle
  if (keys === null || typeof handle?.useUserBuffer !== "function") return false
  const buffer = ownerOf(socket).readBuffer()
  const owned = socket as unknown as Record<symbol, unknown>
  owned[keys.buffer] = buffer
  owned[keys.callback] = onRead
  owned[keys.generator] = nextBuffer
  handle.useUserBuffer(buffer)
  return true
}
