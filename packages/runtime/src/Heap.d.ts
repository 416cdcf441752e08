/**
 * The node flags to start a socket program with.
 *
 * @since 0.1.0
 * @category flags
 */
export declare const nodeFlags: ReadonlyArray<string>
/**
 * Applies `nodeFlags` to the running process (what can still change once it runs).
 *
 * @since 0.1.0
 * @category tuning
 */
export declare const tuneForSockets: () => void
