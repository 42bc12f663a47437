"""`run --health-port N [--health-host H]`: an HTTP endpoint for systemd, Docker or Kubernetes checks.

It listens on 127.0.0.1 unless told otherwise: a check inside the machine or the container reaches that,
a Kubernetes probe (sent to the pod's address) needs `--health-host 0.0.0.0` (the image sets
`WIREBRIEF_HEALTH_HOST=0.0.0.0`).

GET /health answers 200 with the /status facts as JSON when the gateway is connected and the
ingest loop is coming round, 503 with the same facts (and the problems) otherwise. The JSON also
carries `loop_lag`: how late the event loop runs (`bot/ops/looplag.py`), sampled while the
endpoint is up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.errors import WirebriefError
from bot.ops.looplag import LoopLagMonitor
from bot.services.status import StatusReport

log = logging.getLogger(__name__)


class HealthServer:
    """A one-route aiohttp server on `host` (loopback unless told otherwise)."""

    def __init__(
        self,
        report: Callable[[], Awaitable[StatusReport]],
        port: int,
        host: str = "127.0.0.1",
        *,
        lag: LoopLagMonitor | None = None,
    ) -> None:
        self.report = report
        self.port = port
        self.host = host
        self.lag = lag if lag is not None else LoopLagMonitor()
        self._runner: web.AppRunner | None = None

    async def _health(self, request: web.Request) -> web.Response:
        try:
            status = await self.report()
        except Exception:  # the endpoint must answer even when the store does not
            log.exception("health check failed")
            body = {"healthy": False, "problems": ["the status could not be read"], "loop_lag": self.lag.snapshot()}
            return web.json_response(body, status=503)
        return web.json_response(status.as_json() | {"loop_lag": self.lag.snapshot()},
                                 status=200 if status.healthy else 503)  # fmt: skip

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self.close()
            raise WirebriefError(f"cannot listen on {self.where} for health checks: {exc.strerror}") from None
        self.lag.start()
        log.info("health endpoint on http://%s/health", self.where)

    @property
    def where(self) -> str:
        """host:port as a URL writes it (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def close(self) -> None:
        await self.lag.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
