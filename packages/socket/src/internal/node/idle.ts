// The idle timeout of a listener's connections: one timer ticks for all of them
// (a tenth of the timeout, at most a second) and checks when each last saw a
// byte, instead of a Node timer per socket refreshed on every read and write. A
// connection times out once it has been idle for the timeout, at most two ticks later.

/** What the sweep checks: each connection decides for itself whether its silence is the peer's. */
export interface Watched {
  checkIdle(now: number, limit: number, idleMillis: number): void
}

export class IdleSweep {
  /** The sweep's clock, read at each tick: what connections record as their last activity. */
  now = performance.now()
  private readonly timer: ReturnType<typeof setInterval>

  constructor(idleMillis: number, connections: () => Iterable<Watched | undefined>) {
    const tickMillis = Math.min(1_000, Math.max(1, Math.round(idleMillis / 10)))
    // A recorded activity is up to a tick older than the real one: a connection is idle once the clock
    // is a tick past its timeout, never before.
    const limit = idleMillis + tickMillis
    this.timer = setInterval(() => {
      const now = this.now = performance.now()
      for (const connection of connections()) {
        if (connection !== undefined) connection.checkIdle(now, limit, idleMillis)
      }
    }, tickMillis)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
