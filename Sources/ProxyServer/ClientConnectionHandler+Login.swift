#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConnectionPool
import ProxyConfig
import Logging
import DataPlane
import NIOCore
import PostgresWire
import ProxySession
import SchemaRouting
import Synchronization

/// Login: the startup packet, authentication, and what a client gets before its first query.
extension ClientConnectionHandler {
    func continueStartup() {
        while case .startup(var machine) = self.phase, self.inbound != nil {
            let actions: [ClientStartupStateMachine.Action]
            if machine.isAwaitingStartupPacket {
                let request: StartupRequest?
                do { request = try StartupRequest.decode(from: &self.inbound!) } catch {
                    return self.failAndClose(.fatal(.protocolViolation, error.description))
                }
                guard let request else { return }
                if case .startup(let packet) = request {
                    self.startupMessage = packet  // kept until the login ends (the log of a failed login names its user)
                    self.noteTLS(in: &machine)
                }
                actions = machine.received(request)
            } else {
                let frame: Frame?
                do {
                    frame = try self.inbound!.peekFrame(
                        at: self.inbound!.readerIndex, maximumLength: ProtocolLimits.maxAuthenticationMessageLength)
                } catch {
                    return self.failAndClose(.fatal(.protocolViolation, error.description))
                }
                guard let frame else { return }
                guard frame.id == FrontendMessageID.password else {
                    return self.failAndClose(.fatal(.protocolViolation, "expected password response, got message type \(frame.id)"))
                }
                let payload = self.inbound!.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
                self.inbound!.moveReaderIndex(forwardBy: frame.totalLength)
                actions = [machine.receivedPassword(payload)]
            }
            self.phase = .startup(machine)
            if self.inbound!.readableBytes == 0 { self.inbound = nil }
            for action in actions { self.run(action) }
        }
    }

    func run(_ action: ClientStartupStateMachine.Action) {
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 256))
        switch action {
        case .refuseEncryption:
            writer.buffer.writeInteger(UInt8(ascii: "N"))
            self.send(writer.buffer)
        case .acceptEncryption:
            self.startClientTLS(plaintextFollowed: self.inbound != nil)  // see ClientConnectionHandler+TLS.swift
        case .cancel(let key):
            self.runtime.cancelRegistry.cancel(key, runtime: self.runtime)
            self.phase = .closing
            self.socket.close()
        case .negotiateProtocolVersion(let minor, let options):
            writer.writeNegotiateProtocolVersion(newestMinor: minor, unsupportedOptions: options)
            self.socket.write(writer.buffer)
        case .requestAuthentication(let request):
            switch request {
            case .md5(let salt): writer.writeAuthenticationMD5Password(salt: (salt[0], salt[1], salt[2], salt[3]))
            case .sasl(let mechanisms): writer.writeAuthenticationSASL(mechanisms: mechanisms)
            case .saslContinue(let data): writer.writeAuthenticationSASLContinue(data)
            }
            self.send(writer.buffer)
        case .authenticated(let user, let database, let startup, let saslFinal):
            if let saslFinal { writer.writeAuthenticationSASLFinal(saslFinal) }
            self.user = user
            self.database = database
            self.startupMessage = startup
            self.authenticated(writer: writer)
        case .fail(let error):
            if error.sqlState == SQLState.invalidPassword.code {
                self.runtime.logger.info("authentication failed", metadata: ["client": "\(self.remoteAddress)", "user": "\(self.startupUser)", "sqlstate": "28P01"])
            }
            self.failAndClose(error)
        }
    }

    var startupUser: String { self.startupMessage.user ?? "" }

    func endLogin() {
        guard self.countedAsPendingLogin else { return }
        self.countedAsPendingLogin = false
        self.runtime.endLogin()
    }

    func authenticated(writer: MessageWriter) {
        var writer = writer
        self.endLogin()
        guard self.runtime.admitClient() else {
            return self.failAndClose(.fatal(.tooManyConnections, "sorry, too many clients already"), prefix: writer.buffer)
        }
        self.countedAsClient = true
        if self.database == self.runtime.adminDatabase {
            guard self.runtime.isAdmin(self.user) else {
                return self.failAndClose(
                    .fatal(.insufficientPrivilege, "user \"\(self.user)\" may not use the admin console"), prefix: writer.buffer)
            }
            writer.writeAuthenticationOk()
            let console = AdminConsole(runtime: self.runtime)
            self.phase = .admin(console)
            self.setPublicState(.admin)
            console.writeGreeting(into: &writer)
            self.loginTimeout?.cancel()
            self.send(writer.buffer)
            return
        }
        guard let service = self.runtime.service(named: self.database) else {
            return self.failAndClose(.fatal(.invalidCatalogName, "database \"\(self.database)\" does not exist"), prefix: writer.buffer)
        }
        self.service = service
        self.poolMode = service.poolMode
        self.recordsDurations = service.metrics.recordsDurations
        service.clientAttached(self)
        writer.writeAuthenticationOk()
        self.socket.write(writer.buffer)
        self.runtime.logger.debug("client logged in", metadata: ["client": "\(self.remoteAddress)", "user": "\(self.user)", "service": "\(service.name)"])
        if service.serverParameters != nil, self.poolMode == .transaction {
            self.finishStartup()
        } else {
            self.phase = .awaitingParameters
            self.requestServer()
        }
    }

    /// ParameterStatus, BackendKeyData, ReadyForQuery: the client may now send queries. `kept` is the server
    /// connection a session-pooling client keeps: the client gets its parameters and its real process ID (with
    /// a secret of the proxy's own, which the cancel registry maps to this client and so to that connection).
    func finishStartup(keeping kept: ServerConnection? = nil) {
        guard let service else { return }
        self.loginTimeout?.cancel()
        self.loginTimeout = nil
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 512))
        let serverParameters = kept?.parameters ?? service.serverParameters ?? []
        let clientValues = SessionSettings.startupValues(self.startupMessage.parameters)
        var reported: [String: String] = [:]
        for parameter in serverParameters {
            reported[parameter.name.lowercased()] = parameter.value
            // Settings the client chose itself are reported back as the client's own; the server reports
            // its normalised spelling once they are applied on a server connection.
            var value = parameter.value
            if let own = clientValues[parameter.name.lowercased()],
               SessionSettings.loosely(own) != SessionSettings.loosely(parameter.value) {
                // The encoding in the server's spelling (`eucjp` -> EUC_JP), as the server reports it once applied.
                value = parameter.name.lowercased() == "client_encoding" ? EncodingNames.canonical(own) ?? own : own
            }
            writer.writeParameterStatus(name: parameter.name, value: value)
        }
        self.clientSession.begin(startupSettings: service.canonicalSettings(
            SessionSettings(startupParameters: self.startupMessage.parameters, serverReported: reported)))
        // Its settings live on in the session; an idle client should not keep the packet too.
        self.startupMessage = StartupMessage(parameters: [])
        if let kept, let serverKey = kept.backendKey {
            self.proxyKey = self.runtime.cancelRegistry.makeKey(processID: serverKey.processID)
            // The client's startup settings go first, ahead of anything it sends.
            self.prepareLease(on: kept)
        }
        writer.writeBackendKeyData(self.proxyKey)
        writer.writeReadyForQuery(.idle)
        self.runtime.cancelRegistry.register(self)
        self.phase = .ready
        self.setPublicState(.idle)
        self.send(writer.buffer)
        if self.inbound != nil { self.relayClientMessages() }
    }
}
