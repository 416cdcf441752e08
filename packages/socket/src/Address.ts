/**
 * Socket addresses: where a connection or listener is bound.
 *
 * @since 0.1.0
 */

/**
 * A TCP endpoint: host (numeric for bound sockets), port and IP family.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
  readonly family: "IPv4" | "IPv6"
}

/**
 * `127.0.0.1:8888`, `[::1]:8888`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (address: Pick<Address, "host" | "port">): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/**
 * Does this host name every interface (`0.0.0.0`, `::`)?
 *
 * @since 0.1.0
 * @category predicates
 */
export const isUnspecified = (host: string): boolean => host === "0.0.0.0" || host === "::" || host === "[::]"
