"""Fault control shared by the simulators: a validated dataclass of faults and its HTTP endpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields

from aiohttp import web


class FaultSet:
    """Mixin for a dataclass of faults: ``update`` refuses unknown names, ``check`` validates values."""

    def update(self, changes: dict) -> None:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            setattr(self, key, value)
        self.check()

    def check(self) -> None:
        pass


def faults_endpoint(owner: object, factory: Callable[[], FaultSet]):
    """GET shows ``owner.faults``; PATCH merges a JSON object into them; PUT replaces them (from defaults).
    An invalid change is a 400 and leaves the faults as they were."""

    async def handler(request: web.Request) -> web.Response:
        if request.method in ("PUT", "PATCH"):
            changes = await request.json()
            faults = factory() if request.method == "PUT" else type(owner.faults)(**asdict(owner.faults))
            try:
                faults.update(changes)
            except ValueError as exc:
                return web.Response(status=400, text=str(exc))
            owner.faults = faults
        return web.json_response(asdict(owner.faults))

    return handler
