"""A circuit breaker per model, kept in Redis so every process agrees on it.

Closed: calls go through; each failure counts, a success resets the count. After `threshold`
consecutive failures the breaker opens: the model is skipped (no call, no retry delay) for
`cooldown` seconds. Then it is half-open: exactly one request, the probe, is let through. The
probe's success closes the breaker; its failure opens it for another cooldown.

Each transition is one Lua script, so concurrent requests in many processes never race.
"""

import time
from enum import StrEnum

import redis

from agentsite import aioredis

KEY_PREFIX = "agentsite:llm:breaker:"

# KEYS[1] state hash, KEYS[2] probe lock; ARGV[1] now (s), ARGV[2] cooldown (s).
# Returns "closed" (no failures counted), "failing" (closed, with failures counted), "open" or
# "probe" (half-open, and this caller holds the probe).
_ALLOW = """
local state = redis.call('HMGET', KEYS[1], 'opened_until', 'failures')
local opened_until = tonumber(state[1] or '0')
if opened_until == 0 then
  if tonumber(state[2] or '0') > 0 then return 'failing' end
  return 'closed'
end
if tonumber(ARGV[1]) < opened_until then return 'open' end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', math.floor(tonumber(ARGV[2]) * 1000)) then
  return 'probe'
end
return 'open'
"""

# KEYS as above; ARGV[1] now, ARGV[2] cooldown, ARGV[3] threshold, ARGV[4] ttl (s).
# Returns "open" when this failure opened (or re-opened) the breaker, else "closed".
_FAILURE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local was_open = tonumber(redis.call('HGET', KEYS[1], 'opened_until') or '0') > 0
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
if was_open or failures >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'opened_until', tonumber(ARGV[1]) + tonumber(ARGV[2]))
  redis.call('DEL', KEYS[2])
  return 'open'
end
return 'closed'
"""

_SUCCESS = """
redis.call('DEL', KEYS[1], KEYS[2])
return 'closed'
"""


class BreakerState(StrEnum):
    CLOSED = "closed"
    FAILING = "failing"  # closed, but recent failures are counted: a success resets them
    OPEN = "open"
    PROBE = "probe"  # half-open, and this request is the one probe

    @property
    def needs_reset_on_success(self) -> bool:
        """The common case (closed, nothing counted) costs no second round trip."""
        return self in (BreakerState.FAILING, BreakerState.PROBE)


class CircuitBreaker:
    """Breaker decisions for the models of one ring (the ring is async; sync callers reach it
    through the side loop)."""

    def __init__(self, redis_url: str, *, threshold: int, cooldown: float):
        self.threshold = threshold
        self.cooldown = cooldown
        self._admin = redis.Redis.from_url(redis_url, decode_responses=True)  # reset() only
        self._url = redis_url

    def _keys(self, model: str) -> list[str]:
        return [f"{KEY_PREFIX}{model}", f"{KEY_PREFIX}{model}:probe"]

    def _args(self, script: str) -> list:
        """The arguments one script takes (the clock is read per call, on the hot path)."""
        if script is _SUCCESS:
            return []
        now = time.time()
        if script is _ALLOW:
            return [now, self.cooldown]
        ttl = int(self.cooldown * 10) + 60  # forget stale failure counts eventually
        return [now, self.cooldown, self.threshold, ttl]

    async def _arun(self, script: str, model: str) -> BreakerState:
        client = aioredis.client(self._url)
        return BreakerState(await client.eval(script, 2, *self._keys(model), *self._args(script)))

    async def aallow(self, model: str) -> BreakerState:
        return await self._arun(_ALLOW, model)

    async def arecord_failure(self, model: str) -> BreakerState:
        return await self._arun(_FAILURE, model)

    async def arecord_success(self, model: str) -> BreakerState:
        return await self._arun(_SUCCESS, model)

    def open_until(self, models: list[str]) -> list[float]:
        """When each breaker's current opening ends (0: closed), in one round trip; for the
        metrics, which read the state without taking part in it (no probe is claimed)."""
        pipeline = self._admin.pipeline(transaction=False)
        for model in models:
            pipeline.hget(self._keys(model)[0], "opened_until")
        return [float(value or 0) for value in pipeline.execute()]

    def reset(self, model: str) -> None:
        self._admin.delete(*self._keys(model))
