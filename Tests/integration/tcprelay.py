"""A TCP relay on 127.0.0.1 for fault tests: forwards to a target port and can stop forwarding without closing
anything, the way a network partition or a hung host looks to the proxy.

    relay = TcpRelay(pg.port)        # listens on relay.port
    relay.freeze()                   # open connections stay open but no byte passes any more
    relay.blackhole = True           # new connections are accepted and then ignored
    relay.close()
"""
from __future__ import annotations

import select
import socket
import threading


class TcpRelay:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.blackhole = False
        self.accepted = 0
        self._frozen = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        """Stop forwarding on every connection open now; nothing is closed."""
        self._frozen.set()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            socks, self._sockets = self._sockets, []
        for s in [self._listener, *socks]:
            try:
                s.close()
            except OSError:
                pass

    def _keep(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.append(s)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            self._keep(client)
            if self.blackhole:
                continue  # accepted, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._keep(upstream)
            frozen = self._frozen if not self._frozen.is_set() else threading.Event()
            threading.Thread(target=self._pump, args=(client, upstream, frozen), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket, frozen: threading.Event) -> None:
        """Copy both ways until either side closes, or stop copying (and hold both open) once frozen."""
        peer = {a: b, b: a}
        try:
            while not self._closed.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.05)
                if frozen.is_set():
                    self._closed.wait()  # hold the sockets open, silently, until the relay closes
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return self._shut(a, b)
                    peer[s].sendall(data)
        except OSError:
            self._shut(a, b)

    @staticmethod
    def _shut(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
