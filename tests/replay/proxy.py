"""A TCP proxy in front of a real redis-server that can lose or delay its replies.

Every byte from the client reaches the server (so the server does execute the
command); what comes back is forwarded, held back for ``delay`` seconds, or,
while ``dropping`` is set, read and thrown away: the client sees a socket
timeout although the server did the work.  That is a lost reply, as a network
cut or a crash after the server answered would cause.  ``drop_next = n`` loses
only the next ``n`` replies; ``cut_next = n`` closes the connection instead of
forwarding each of the next ``n`` replies (a connection reset: the client
library reconnects and resends, and the resend gets through).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from .redis_server import free_port


class ReplyProxy:
    """Listens on a free loopback port and forwards each connection to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.dropping = False
        self.drop_next = 0
        self.cut_next = 0
        self.delay = 0.0
        self.replies_dropped = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if replies:
                    if self.cut_next > 0:  # the connection dies with the answer in it
                        self.cut_next -= 1
                        self.replies_dropped += 1
                        break
                    if self.dropping or self.drop_next > 0:
                        self.drop_next = max(0, self.drop_next - 1)
                        self.replies_dropped += 1
                        continue
                    if self.delay:
                        time.sleep(self.delay)  # the fault under test: a slow reply
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                s.close()
