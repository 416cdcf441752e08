// `copyTo` between two connections of the Node layer (Tokio's `io::copy`): each
// chunk goes from the source's 'data' event straight into the destination's
// socket, with no Effect per chunk. When the destination's buffer is full the
// source stops reading until it drains: backpressure end to end.
import * as Effect from "effect/Effect"
import type * as OSError from "../../OSError.ts"
import type { NodeConnection } from "./connection.ts"

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/** Removes `item` from an array that may not exist yet. */
export const remove = <A>(items: Array<A> | undefined, item: A): void => {
  if (items === undefined) return
  const index = items.indexOf(item)
  if (index >= 0) items.splice(index, 1)
}

/** A running copy; it ends at the source's FIN, or with the first read or write error. */
export class Copy {
  readonly source: NodeConnection
  readonly target: NodeConnection
  readonly resume: Resume<number, OSError.ReadError | OSError.WriteError>
  copied = 0
  waitingForDrain = false
  done = false
  constructor(
    source: NodeConnection,
    target: NodeConnection,
    resume: Resume<number, OSError.ReadError | OSError.WriteError>
  ) {
    this.source = source
    this.target = target
    this.resume = resume
  }

  send(chunk: Uint8Array): void {
    const target = this.target
    this.copied += chunk.length
    target.sent += chunk.length
    target.touch()
    if (!target.socket.write(chunk) && !this.waitingForDrain) {
      // the destination's buffer is full: stop reading until it drains
      this.waitingForDrain = true
      target.waitForDrain(this)
      this.source.pauseReading()
    }
  }

  drained(): void {
    this.waitingForDrain = false
    this.source.resumeReading()
  }

  /** Reading ended (EOF) or failed. */
  readEnded(): void {
    const source = this.source
    if (source.readError !== undefined) {
      // when this socket failed writing (an echo), that is the copy's write error
      const failure = source.failure as { readonly syscall?: unknown } | undefined
      this.finish(failure?.syscall === "write" ? source.writeFailure() : source.readError)
    } else if (source.eof) this.finish(this.copied)
  }

  /** Ends the copy once: with the count copied, or an error. */
  finish(result: number | OSError.ReadError | OSError.WriteError): void {
    if (this.done) return
    this.done = true
    this.cleanup()
    this.resume(typeof result === "number" ? Effect.succeed(result) : Effect.fail(result))
  }

  cleanup(): void {
    const { source, target } = this
    if (source.copy === this) source.copy = undefined
    remove(target.drainWaiters, this)
    if (target !== source) remove(target.inbound, this)
    if (this.waitingForDrain) this.drained()
  }
}

/** Starts copying: what was read ahead first, then straight from the socket. `undefined`: it ended at once. */
export const startCopy = (
  source: NodeConnection,
  target: NodeConnection,
  resume: Resume<number, OSError.ReadError | OSError.WriteError>
): Copy | undefined => {
  const out = target.socket
  if (out.destroyed || out.writableEnded) return void resume(Effect.fail(target.writeFailure()))
  const running = new Copy(source, target, resume)
  if (target !== source) (target.inbound ??= []).push(running)
  const queued = source.queue
  source.queue = undefined
  source.queued = 0
  source.copy = running
  if (queued !== undefined) {
    for (let i = 0; i < queued.length && !running.done; i++) running.send(queued[i])
  }
  if (!running.waitingForDrain) source.resumeReading()
  if (source.readError !== undefined || source.eof) running.readEnded()
  return running
}
