// The figures of a run: the quick ones run inside `pnpm test` (light: other
// suites run at the same time on 2 cores); RELIABILITY=full runs the issue's.
export const full = process.env.RELIABILITY === "full"

export const scale = full
  ? {
    echoConnections: 1000,
    echoSeconds: 10,
    idleConnections: 10_000,
    stalledPushMiB: 256,
    churn: 2000,
    overflow: 200,
    shutdownConnections: 100,
    transparencyMiB: 16
  }
  : {
    echoConnections: 200,
    echoSeconds: 2,
    idleConnections: 1000,
    stalledPushMiB: 64,
    churn: 300,
    overflow: 50,
    shutdownConnections: 100,
    transparencyMiB: 2
  }

/** A test's timeout: the quick ones stay short, the long ones get room. */
export const timeout = (quickMs: number, fullMs: number): number => (full ? fullMs : quickMs)
