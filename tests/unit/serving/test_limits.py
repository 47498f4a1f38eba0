"""What one worker allows at once: shared capacity (argon2 slots, the pixel budget), failed
key attempts per address, and the verified-key cache, with a clock the tests move. The
key store is the boundary faked here (`_verify`); the database and argon2 behind it have
their own tests (tests/integration/test_serving_keys.py)."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from modelfleet.errors import BadRequest, Overloaded, TooManyRequests, Unauthorized
from modelfleet.serving.auth import Authenticator, Principal
from modelfleet.serving.limits import Capacity, FailedAttempts
from modelfleet.serving.service import PredictionService, pixel_budget
from modelfleet.settings import EndpointLimits
from tests.unit.serving.conftest import fake_model

GOOD = {"authorization": "Bearer mf_000000000001_good-key-good-key-good"}
WRONG = {"authorization": "Bearer mf_000000000001_wrong-secret-wrong-sec"}
UNKNOWN = {"authorization": "Bearer mf_ffffffffffff_unknown-key-id-unknown"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeStore(Authenticator):
    """The key store as the endpoint sees it: one valid key, a little latency."""

    def __init__(self, limits: EndpointLimits, clock: Clock | None = None) -> None:
        super().__init__("postgresql://unused", limits=limits, clock=clock or Clock())
        self.running = self.most_at_once = 0
        self.delay_s = 0.0

    def _verify(self, key: str) -> Principal | None:
        import time

        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.delay_s)
        self.running -= 1
        return Principal("hmi") if key == GOOD["authorization"][7:] else None


def ask(auth: Authenticator, headers: dict[str, str], address: str = "10.0.0.1") -> Principal:
    return asyncio.run(auth.principal(headers, address))


def test_a_cached_key_pays_argon2_once_per_ttl():
    clock = Clock()
    auth = FakeStore(EndpointLimits(key_cache_ttl_s=60), clock)
    for _ in range(5):
        assert ask(auth, GOOD).name == "hmi"
    assert auth.verifications == 1
    clock.now += 59
    ask(auth, GOOD)
    assert auth.verifications == 1
    clock.now += 2  # past the TTL: verified again
    ask(auth, GOOD)
    assert auth.verifications == 2


def test_with_the_cache_off_every_request_verifies():
    auth = FakeStore(EndpointLimits(key_cache=False, auth_failures_per_min=0))
    for _ in range(4):
        ask(auth, GOOD)
    assert auth.verifications == 4


def test_failed_attempts_are_limited_per_address_before_any_hashing():
    auth = FakeStore(EndpointLimits(auth_failures_per_min=10))
    for headers in [WRONG, UNKNOWN] * 5:  # a known key id and an unknown one count alike
        with pytest.raises(Unauthorized):
            ask(auth, headers)
    assert auth.verifications == 10
    for headers in (WRONG, UNKNOWN, GOOD):  # even a right key: the address waits
        with pytest.raises(TooManyRequests) as limited:
            ask(auth, headers)
        assert limited.value.http_status == 429 and 1 <= limited.value.retry_after_s <= 60
    assert auth.verifications == 10  # no hashing once the address is out of attempts
    with pytest.raises(Unauthorized):
        ask(auth, WRONG, address="10.0.0.2")  # another address has its own allowance


def test_a_key_already_verified_is_never_locked_out():
    auth = FakeStore(EndpointLimits(auth_failures_per_min=3))
    ask(auth, GOOD)  # the victim's key, verified and cached
    for _ in range(3):  # someone floods wrong secrets for the victim's key id
        with pytest.raises(Unauthorized):
            ask(auth, WRONG)
    with pytest.raises(TooManyRequests):
        ask(auth, WRONG)
    assert ask(auth, GOOD).name == "hmi"  # from the same address, even


def test_the_limit_forgets_failures_after_a_minute():
    clock = Clock()
    auth = FakeStore(EndpointLimits(auth_failures_per_min=2), clock)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            ask(auth, WRONG)
    with pytest.raises(TooManyRequests) as limited:
        ask(auth, WRONG)
    assert limited.value.retry_after_s == 60
    clock.now += 30
    with pytest.raises(TooManyRequests) as limited:
        ask(auth, WRONG)
    assert limited.value.retry_after_s == 30
    clock.now += 30
    with pytest.raises(Unauthorized):
        ask(auth, WRONG)


def test_attempts_in_flight_count_so_a_burst_cannot_outrun_the_limit():
    auth = FakeStore(EndpointLimits(auth_failures_per_min=3, key_verifications=8))
    auth.delay_s = 0.05

    async def burst() -> list[BaseException | Principal]:
        return await asyncio.gather(
            *(auth.principal(WRONG, "10.0.0.1") for _ in range(10)), return_exceptions=True
        )

    outcomes = asyncio.run(burst())
    assert sum(isinstance(o, Unauthorized) for o in outcomes) == 3
    assert sum(isinstance(o, TooManyRequests) for o in outcomes) == 7
    assert auth.verifications == 3


def test_argon2_verifications_at_once_are_capped():
    auth = FakeStore(EndpointLimits(key_verifications=2, key_cache=False, auth_failures_per_min=0))
    auth.delay_s = 0.05

    async def burst() -> None:
        await asyncio.gather(*(auth.principal(GOOD, f"10.0.0.{i}") for i in range(8)))

    asyncio.run(burst())
    assert auth.verifications == 8 and auth.most_at_once == 2


def test_a_verification_that_waits_too_long_is_a_503_with_retry_after():
    auth = FakeStore(
        EndpointLimits(key_verifications=1, queue_timeout_s=0.05, auth_failures_per_min=0)
    )
    auth.delay_s = 0.3

    async def burst() -> list[BaseException | Principal]:
        return await asyncio.gather(
            *(auth.principal(GOOD if i == 0 else WRONG) for i in range(2)),
            return_exceptions=True,
        )

    first, second = asyncio.run(burst())
    assert isinstance(first, Principal)
    assert isinstance(second, Overloaded)
    assert second.http_status == 503 and second.retry_after_s == 1


def test_an_overload_is_no_failed_attempt():
    limiter = FailedAttempts(1)
    limiter.begin("a")
    limiter.end("a", failed=False)
    limiter.begin("a")  # still allowed


def test_capacity_serves_in_order_and_never_exceeds_itself():
    idle: list[int] = []
    capacity = Capacity(10, "test", timeout_s=5, on_idle=idle.append)
    order: list[str] = []

    async def hold(name: str, units: int, seconds: float) -> None:
        async with capacity.hold(units):
            order.append(name)
            await asyncio.sleep(seconds)

    async def run() -> None:
        await asyncio.gather(hold("big", 8, 0.02), hold("large", 6, 0.01), hold("small", 1, 0))

    asyncio.run(run())
    assert capacity.peak <= 10 and capacity.used == 0
    assert order == ["big", "large", "small"]  # small waited its turn behind large
    assert idle == [15]


def test_an_image_larger_than_the_whole_budget_is_refused_up_front():
    service = PredictionService(pool=None, decode_budget=pixel_budget(1_000, 1.0))  # type: ignore[arg-type]
    with pytest.raises(
        BadRequest, match=r"image too large: 1,600 pixels exceeds the limit of 1,000"
    ):
        asyncio.run(service.image(fake_model(), png(40, 40), "file"))


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_concurrent_decodes_stay_within_the_pixel_budget():
    service = PredictionService(pool=None, decode_budget=pixel_budget(250_000, 30.0))  # type: ignore[arg-type]
    model = fake_model()

    async def burst() -> list[np.ndarray]:
        return await asyncio.gather(
            *(service.image(model, png(400, 400), f"file{i}") for i in range(6))
        )

    results = asyncio.run(burst())
    assert all(r.shape == (28, 28, 1) for r in results)
    assert service.decode_budget.peak == 160_000  # one 400x400 image at a time
    assert service.decode_budget.used == 0


def test_a_decode_that_waits_past_the_queue_timeout_is_a_503():
    service = PredictionService(pool=None, decode_budget=pixel_budget(200_000, 0.001))  # type: ignore[arg-type]
    model = fake_model()

    async def burst() -> list[BaseException | np.ndarray]:
        images = [png(1500, 100)] * 4
        return await asyncio.gather(
            *(service.image(model, data, "file") for data in images), return_exceptions=True
        )

    outcomes = asyncio.run(burst())
    assert any(isinstance(o, np.ndarray) for o in outcomes)
    overloaded = [o for o in outcomes if isinstance(o, Overloaded)]
    assert overloaded and "image decoding waited" in str(overloaded[0])
