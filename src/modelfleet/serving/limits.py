"""What one endpoint worker does at once: shared capacity that requests queue for, and
the count of failed key attempts per client address.

All of it lives on the worker's event loop (no locks): `Capacity` is a FIFO weighted
semaphore whose waiters give up after a timeout with 503 and Retry-After, so a burst
queues briefly instead of piling up; `FailedAttempts` says 429 before any hashing once
an address has used up its failures for the minute.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from modelfleet.errors import Overloaded, TooManyRequests

Clock = Callable[[], float]


class Capacity:
    """`capacity` units (argon2 slots, pixels) shared by the requests of one worker.

    Waiters are served in arrival order, so a large request is not starved by small
    ones; `on_idle(units)` runs when the last holder lets go (units used since the last
    idle moment), which is when a heap trim returns the most memory.
    """

    def __init__(
        self,
        capacity: int,
        what: str,
        *,
        timeout_s: float,
        on_idle: Callable[[int], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"{what}: capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.what = what
        self.timeout_s = timeout_s
        self.on_idle = on_idle
        self.used = 0
        self.peak = 0  # the most ever held at once (tests, benchmarks)
        self._since_idle = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def hold(self, units: int) -> AsyncIterator[None]:
        """Hold `units` for the block; Overloaded (503) if they are not free in time."""
        units = max(0, units)
        if units > self.capacity:
            raise ValueError(f"{self.what}: {units} units can never fit in {self.capacity}")
        await self._acquire(units)
        try:
            yield
        finally:
            self._release(units)

    async def _acquire(self, units: int) -> None:
        if not self._waiters and self.used + units <= self.capacity:
            self._take(units)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (units, waiter)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.timeout_s)
        except TimeoutError:
            if waiter.done():  # granted just as the wait ran out: keep it
                return
            self._waiters.remove(entry)
            self._wake()  # a smaller request behind this one may fit now
            raise Overloaded(
                f"the endpoint is busy: {self.what} waited {self.timeout_s:g} s; try again"
            ) from None
        except BaseException:
            if waiter.done():
                self._release(units)
            else:
                self._waiters.remove(entry)
                self._wake()
            raise

    def _take(self, units: int) -> None:
        self.used += units
        self._since_idle += units
        self.peak = max(self.peak, self.used)

    def _release(self, units: int) -> None:
        self.used -= units
        self._wake()
        if self.used == 0 and self.on_idle is not None and self._since_idle:
            since, self._since_idle = self._since_idle, 0
            self.on_idle(since)

    def _wake(self) -> None:
        while self._waiters and self.used + self._waiters[0][0] <= self.capacity:
            units, waiter = self._waiters.popleft()
            self._take(units)
            waiter.set_result(None)


class FailedAttempts:
    """At most `per_minute` failed key attempts per client address in any 60 s.

    An attempt in flight counts as failed until it succeeds, so one address cannot start
    more hashing than its allowance by sending many requests at once. A success gives
    the attempt back. Unknown and known key ids count alike.
    """

    WINDOW_S = 60.0
    MAX_ADDRESSES = 100_000  # memory bound; the oldest addresses are forgotten first

    def __init__(self, per_minute: int, *, clock: Clock = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._in_flight: dict[str, int] = {}

    def begin(self, address: str) -> None:
        """Before hashing: 429 if `address` has no attempt left; else count one in flight."""
        if self.per_minute <= 0:
            return
        failures = self._recent(address)
        if len(failures) + self._in_flight.get(address, 0) >= self.per_minute:
            wait = self.WINDOW_S - (self.clock() - failures[0]) if failures else 1.0
            raise TooManyRequests(
                f"too many failed API key attempts from {address or 'this address'}: "
                f"at most {self.per_minute} a minute",
                retry_after_s=max(1, math.ceil(wait)),
            )
        self._in_flight[address] = self._in_flight.get(address, 0) + 1

    def end(self, address: str, *, failed: bool) -> None:
        """After hashing (or giving up): a failure is remembered for a minute."""
        if self.per_minute <= 0:
            return
        left = self._in_flight.get(address, 0) - 1
        if left > 0:
            self._in_flight[address] = left
        else:
            self._in_flight.pop(address, None)
        if failed:
            failures = self._failures.setdefault(address, deque(maxlen=self.per_minute))
            failures.append(self.clock())
            self._failures.move_to_end(address)
            while len(self._failures) > self.MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        horizon = self.clock() - self.WINDOW_S
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
        return failures
