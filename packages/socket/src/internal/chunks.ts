// The Reader's buffer: the chunks pulled from the connection, as they came,
// and how far into the first one has been read. Nothing is concatenated until
// a read asks for bytes that span chunks; a read that one chunk satisfies gets
// a subarray of it (a stream's chunks are their consumer's to keep).

const empty = new Uint8Array(0)

/** Consumed slots at the front are dropped once there are this many and they are half the list. */
const compactAfter = 32

export class Chunks {
  /** The chunks; those before `head` are consumed (`undefined`, so they can be collected). */
  private list: Array<Uint8Array | undefined> = []
  private head = 0
  /** Bytes of `list[head]` already read. */
  private offset = 0
  /** Bytes buffered, not yet read. */
  size = 0

  push(chunks: ReadonlyArray<Uint8Array>): void {
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]
      if (chunk.length === 0) continue
      this.list.push(chunk)
      this.size += chunk.length
    }
  }

  /** The first `n` bytes (at most `size`), taken off: a subarray when one chunk holds them, else a copy. */
  take(n: number): Uint8Array {
    if (n <= 0) return empty
    const first = this.list[this.head]!
    const start = this.offset
    if (first.length - start >= n) {
      this.skip(n)
      return first.subarray(start, start + n)
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.list[this.head]!
      const from = this.offset
      const count = Math.min(chunk.length - from, n - filled)
      out.set(chunk.subarray(from, from + count), filled)
      filled += count
      this.skip(count)
    }
    return out
  }

  /** Drops the first `n` bytes (at most `size`). */
  skip(n: number): void {
    this.size -= n
    let left = n
    while (left > 0) {
      const chunk = this.list[this.head]!
      const available = chunk.length - this.offset
      if (left < available) {
        this.offset += left
        return
      }
      left -= available
      this.list[this.head] = undefined
      this.head++
      this.offset = 0
    }
    if (this.head === this.list.length) {
      this.list = []
      this.head = 0
    } else if (this.head >= compactAfter && this.head * 2 >= this.list.length) {
      this.list = this.list.slice(this.head)
      this.head = 0
    }
  }

  /** Everything buffered, as chunks (the first trimmed to what is unread), leaving the buffer empty. */
  drain(): Array<Uint8Array> {
    const chunks = this.list.slice(this.head) as Array<Uint8Array>
    if (chunks.length > 0 && this.offset > 0) chunks[0] = chunks[0].subarray(this.offset)
    this.list = []
    this.head = 0
    this.offset = 0
    this.size = 0
    return chunks
  }

  /** Where `separator` first starts at or after `from` (counted from the first unread byte), or -1. */
  indexOf(separator: Uint8Array, from: number): number {
    const first = separator[0]
    // the position of the current chunk's byte 0, counted from the first unread byte
    let base = -this.offset
    for (let i = this.head; i < this.list.length; i++) {
      const chunk = this.list[i]!
      let at = chunk.indexOf(first, Math.max(from - base, i === this.head ? this.offset : 0))
      while (at !== -1) {
        if (this.matchesAt(i, at, separator)) return base + at
        at = chunk.indexOf(first, at + 1)
      }
      base += chunk.length
    }
    return -1
  }

  /** Whether `separator` is buffered from byte `at` of chunk `index` on (its first byte already matched). */
  private matchesAt(index: number, at: number, separator: Uint8Array): boolean {
    let chunk = this.list[index]!
    let position = at + 1
    for (let k = 1; k < separator.length; k++) {
      while (position >= chunk.length) {
        index++
        if (index >= this.list.length) return false
        chunk = this.list[index]!
        position = 0
      }
      if (chunk[position] !== separator[k]) return false
      position++
    }
    return true
  }
}
