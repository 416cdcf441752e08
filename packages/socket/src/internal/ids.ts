// Connection ids: one counter for the process, drawn from by both layers, so an
// id names one connection among all of the process's, as `Connection.id` says.
let last = 0

export const nextConnectionId = (): number => ++last
