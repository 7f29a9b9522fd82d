"""bolt's listeners, followed until they end.

With the Events API bolt acknowledges first and runs the listener in a task of its own that nothing awaits. A
service stopping in that moment would close the database under a listener halfway through its write (a member
who just joined never reaches the directory, and the half-used connection is left to the garbage collector).
bolt has no option to hand in a task tracker, but its listener runner calls a start handler inside each
listener's task: that is where the task is noted, so shutdown can wait for it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse


class ListenerTasks(AsyncListenerStartHandler):
    """The tasks of the listeners running now."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[object]] = set()

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    @property
    def running(self) -> int:
        return len(self._running)

    async def drain(self, _app: web.Application | None = None) -> None:
        """Wait for every listener running now, and for those they set off meanwhile."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)


def follow_listeners(bolt: AsyncApp) -> ListenerTasks:
    tasks = ListenerTasks()
    bolt.listener_runner.listener_start_handler = tasks
    return tasks
