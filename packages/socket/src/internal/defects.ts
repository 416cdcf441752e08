// Misuse of a connection is a bug in the program, not a network event: a defect
// that says what happened, worded once for both layers.

/** Using a plain connection after STARTTLS: its socket speaks TLS now. */
export const upgraded = (id: number): Error =>
  new Error(`Connection ${id} was upgraded to TLS by startTls: read and write the connection startTls returned`)

/** A second reader: each would get some of the bytes, in no order anyone chose (asyncio raises here too). */
export const secondReader = (id: number): Error =>
  new Error(
    `Connection ${id}: another fiber is already reading this connection's stream (a connection has one reader)`
  )
