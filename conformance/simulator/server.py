"""Serving the simulator with uvicorn on loopback: in a thread for the suite, in the foreground for people."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Self

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from conformance.simulator.app import Settings, Simulator
from conformance.simulator.choices import ChoiceSet
from conformance.simulator.faults import FaultSet

LOOPBACK = "127.0.0.1"
# A kept-alive connection idle this long is closed, unanswered, as the next request on it arrives.
IDLE_CLOSE_SECONDS = 0.1


class ClosingIdleConnections(H11Protocol):
    """HTTP/1.1 as uvicorn serves it, with a keep-alive timeout that runs out just as the client sends: the
    request on a connection idle for IDLE_CLOSE_SECONDS finds it closed, with no answer. RFC 9112 (9.3.1) lets a
    server close an idle connection at any time; the client sends such a request again on a fresh one."""

    answered_at: float | None = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.answered_at = time.monotonic()

    def data_received(self, data: bytes) -> None:
        if self.answered_at is not None and time.monotonic() - self.answered_at >= IDLE_CLOSE_SECONDS:
            self.transport.close()
            return
        super().data_received(data)


class SimulatorDidNotStart(RuntimeError):
    pass


def generated_key(role: str) -> str:
    return f"em_sk_sim_{role}_{secrets.token_hex(12)}"


def make_settings(*, write_key: str | None = None, read_key: str | None = None, other_key: str | None = None,
                  faults: list[str] | tuple[str, ...] = (), choices: list[str] | tuple[str, ...] = (),
                  lifecycle_seconds: float = 1.0, rate_limit: int | None = None, hold_reads: int = 0) -> Settings:
    return Settings(
        write_key=write_key or generated_key("write"),
        read_key=read_key or generated_key("read"),
        other_key=other_key or generated_key("other"),
        faults=FaultSet(tuple(faults)),
        choices=ChoiceSet(tuple(choices)),
        lifecycle_seconds=lifecycle_seconds,
        rate_limit=rate_limit,
        hold_reads=hold_reads,
    )


class LoopbackServer:
    """Any ASGI app on a loopback port, started and stopped from the calling thread."""

    def __init__(self, app: Any, *, port: int = 0, http: Any = "h11", tls: tuple[str, str] | None = None):
        # tls: the certificate chain and key files, for a target over HTTPS signed by a CA of the test's own.
        certfile, keyfile = tls or (None, None)
        config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="critical", interface="asgi3",
                                access_log=False, lifespan="off", http=http, ssl_certfile=certfile,
                                ssl_keyfile=keyfile)
        self._scheme = "https" if tls else "http"
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self, timeout: float = 10.0) -> Self:
        self._thread = threading.Thread(target=self._server.run, name="evermuse-loopback-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise SimulatorDidNotStart(f"the server did not start on {LOOPBACK} within {timeout:.0f} s")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"{self._scheme}://{LOOPBACK}:{port}"
        return self

    def wait(self) -> None:
        """Block until the server stops; Ctrl-C interrupts the wait."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._server.force_exit = True  # a loopback test server: open keep-alive connections need no grace
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimulatorServer(LoopbackServer):
    """The reference simulator on a loopback port."""

    def __init__(self, settings: Settings, *, port: int = 0, tls: tuple[str, str] | None = None):
        self.settings = settings
        self.simulator = Simulator(settings)
        closes = settings.choices.picks("idle-connection", "closed-when-idle")
        super().__init__(self.simulator.app, port=port, http=ClosingIdleConnections if closes else "h11", tls=tls)
