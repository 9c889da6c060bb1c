/// What the pool's owner must do after an event. The state machine never performs I/O itself.
public enum PoolAction: Sendable, Equatable {
    /// Hand the idle or new connection to the waiting client.
    case lease(PoolStateMachine.ConnectionID, to: PoolStateMachine.WaiterID)
    /// Open a new server connection with this id and report `connectionOpened`/`connectionFailed`.
    case openConnection(PoolStateMachine.ConnectionID)
    /// Close this (idle or released) connection and report `connectionClosed` when done.
    case closeConnection(PoolStateMachine.ConnectionID)
    /// Tell the waiting client it will not get a connection.
    case failWaiter(PoolStateMachine.WaiterID, PoolError)
}
