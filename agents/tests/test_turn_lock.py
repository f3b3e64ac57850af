"""The turn lock's renewal stops when the turn ends, even when Redis turns the cancellation
into one of its own errors (a turn once waited forever for a renewal that kept going)."""

import asyncio

from redis.exceptions import LockNotOwnedError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents import services


class CancelTurnedIntoTimeout:
    """A lock whose renewal is under way when the turn ends, and that answers the
    cancellation as redis-py's read timeout racing it does: with a RedisError."""

    def __init__(self):
        self.renewals = 0

    async def extend(self, ttl, replace_ttl=False):
        self.renewals += 1
        if self.renewals > 3:  # a renewal that did not stop ends here, so the test fails
            raise LockNotOwnedError("lost")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RedisTimeoutError("Timeout reading from socket") from None


def test_a_renewal_cancelled_into_a_redis_error_still_stops():
    lock = CancelTurnedIntoTimeout()

    async def turn_ends_during_a_renewal():
        renewal = asyncio.create_task(services._keep_renewed(lock, 0.03, "session"))
        await asyncio.sleep(0.05)  # past the first wait: the renewal is under way
        assert lock.renewals == 1
        renewal.cancel()
        # It used to sleep and renew on, forever (here: until the fake lock gives up).
        await asyncio.gather(renewal, return_exceptions=True)

    asyncio.run(turn_ends_during_a_renewal())
    assert lock.renewals == 1
