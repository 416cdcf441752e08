/**
 * V8 heap settings for programs that move socket buffers.
 *
 * Every read hands Node a fresh buffer whose bytes live outside the JS heap, and
 * V8 counts those bytes against its garbage collection limits. Two defaults
 * then make a busy socket program mark-compact over and over, each time walking
 * the whole heap (Effect's modules included), where plain `node:net` does not:
 *
 * - Young buffers are freed by a cheap scavenge only once they add up to twice
 *   the largest semi-space, 128 MB on 64-bit Node; past 64 MB V8 starts a
 *   mark-compact first. `--scavenger-max-new-space-capacity-mb=4` brings the
 *   scavenge threshold down to 16 MB (at 10 KiB messages: 15 -> 12.4 us a request).
 * - After a mark-compact, V8 sets the next limit from the live heap (about
 *   18 MB for the echo server: a 30 MB limit) and counts the external bytes
 *   allocated since against it. At 10 KiB messages the buffers awaiting their
 *   scavenge alone fill that slack, so once an idle-time or post-spike
 *   mark-compact shrinks the heap, marking restarts about 20 times a second
 *   (at 10 KiB: 30 us a request instead of 12). `--initial-old-space-size=64`
 *   makes 64 MB the least limit V8 ever sets, below which it skips full GCs;
 *   V8 starts any program with a larger limit than that anyway.
 *
 * Both are V8 flags, not Node options. `--initial-old-space-size` only counts
 * on the command line (`pnpm start` passes both, and so does the first line of
 * each program's `main.ts`, the installed command). The scavenger flag also works
 * when set from inside the program (`tuneForSockets`, as `Main.run` does): V8
 * reads it at every buffer allocation; on the command line it also keeps the
 * young generation small, which makes an idle connection cheaper.
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
export const nodeFlags: ReadonlyArray<string> = [...runtimeFlags, "--initial-old-space-size=64"]

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
