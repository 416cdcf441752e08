/**
 * V8 heap settings for programs that move socket buffers.
 *
 * `--scavenger-max-new-space-capacity-mb=4` keeps V8's young generation at
 * 4 MB. On the command line it is what an idle connection costs: with 10,000
 * idle connections the echo server holds 3.3 KiB for each, 6.9 without it,
 * as V8 otherwise grows the young generation while accepting them (node:net:
 * 3.2). Set from inside the program (`tuneForSockets`, as `Main.run` does) it
 * no longer resizes the young generation, but V8 still reads it at every buffer
 * the program allocates: a scavenge frees young buffers sooner, before their
 * bytes start a mark-compact of the whole heap.
 *
 * The socket library needs no flag for speed: `copyTo` reads into a buffer of
 * its own, and a program without flags runs as fast (bench/README.md).
 * `--initial-old-space-size=64`, passed until the library read that way,
 * measured no difference since, and is gone.
 *
 * @since 0.1.0
 */
import * as V8 from "node:v8"

/**
 * The flags that still take effect once the program runs.
 *
 * @since 0.1.0
 * @category flags
 */
export const runtimeFlags: ReadonlyArray<string> = ["--scavenger-max-new-space-capacity-mb=4"]

/**
 * The node flags to start a socket program with.
 *
 * @since 0.1.0
 * @category flags
 */
export const nodeFlags: ReadonlyArray<string> = runtimeFlags

/**
 * Applies `runtimeFlags` to the running process: the part of `nodeFlags` that
 * can still change once it runs.
 *
 * @since 0.1.0
 * @category tuning
 */
export const tuneForSockets = (): void => {
  for (const flag of runtimeFlags) V8.setFlagsFromString(flag)
}
