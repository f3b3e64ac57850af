"""Log-in back-off: failed passwords lock an account, and an address, out for a growing time.

Each failure counts against the account (its normalized email, whether or not it exists, so
the answer never tells which addresses have accounts) and against the caller's IP address.
Past a number of free failures the key is locked for LOGIN_LOCK_SECONDS, doubling with each
further failure up to LOGIN_LOCK_MAX_SECONDS; attempts during a lock are refused (429 with
Retry-After) before any password is checked and are not counted. A successful log-in clears
the account's failures, never the address's (else an attacker could clear their own count by
logging in to an account of their own between guesses). Counters live in Redis (Django's
cache), so every process counts the same failures.

Locking someone out cheaply: whoever knows an address could keep its account locked with one
wrong password per lock period. So the account's lock does not apply to a network that account
logged in from successfully in the last LOGIN_KNOWN_NETWORK_DAYS: the owner at home or at work
still gets in, while guesses from anywhere else back off. Guessers on such a network are still
held by the per-address lock, whose free failures are higher (many people may share a NAT).
"""

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.core.cache import cache
from django_ratelimit.core import _get_ip  # the address the rate limits use (proxy-aware)
from rest_framework.exceptions import Throttled

MAX_DOUBLINGS = 30  # 2**30 times any base is past every cap


class LoginLocked(Throttled):
    """429 rate_limited: too many failed log-ins for this account or from this address."""

    default_detail = "Too many failed log-ins. Retry later, or reset your password."


@dataclass(frozen=True)
class _Counter:
    key: str
    free_failures: int


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def normalize(email: str) -> str:
    return email.strip().lower()


def _address(request) -> str:
    return _digest(_get_ip(request))


def _known_key(request, email: str) -> str:
    return f"login:known:{_digest(normalize(email))}:{_address(request)}"


def _counters(request, email: str) -> list[_Counter]:
    """The keys this attempt counts against: the address, and the account unless the caller
    is on a network the account is known to log in from."""
    counters = [_Counter(f"login:ip:{_address(request)}", settings.LOGIN_FREE_FAILURES_IP)]
    if email and cache.get(_known_key(request, email)) is None:
        account = f"login:account:{_digest(normalize(email))}"
        counters.append(_Counter(account, settings.LOGIN_FREE_FAILURES_ACCOUNT))
    return counters


def check(request, email: str) -> None:
    """Raise LoginLocked with the wait in seconds while this attempt's account or address is
    locked."""
    now = time.time()
    locked_until = cache.get_many([f"{c.key}:lock" for c in _counters(request, email)])
    wait = max((until - now for until in locked_until.values()), default=0)
    if wait > 0:
        raise LoginLocked(wait=math.ceil(wait))


def lock_seconds(failures: int, free_failures: int) -> int:
    """The lock after the n-th failure: none while free, then doubling, capped."""
    if failures < free_failures:
        return 0
    doublings = min(failures - free_failures, MAX_DOUBLINGS)
    return min(settings.LOGIN_LOCK_MAX_SECONDS, settings.LOGIN_LOCK_SECONDS * 2**doublings)


def record_failure(request, email: str) -> None:
    for counter in _counters(request, email):
        cache.add(counter.key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        failures = cache.incr(counter.key)
        seconds = lock_seconds(failures, counter.free_failures)
        if seconds:
            cache.set(f"{counter.key}:lock", time.time() + seconds, timeout=seconds)


def record_success(request, email: str) -> None:
    account = f"login:account:{_digest(normalize(email))}"
    cache.delete_many([account, f"{account}:lock"])
    cache.set(_known_key(request, email), 1, timeout=settings.LOGIN_KNOWN_NETWORK_DAYS * 24 * 3600)


def authenticate(request, email: str, password: str):
    """Django's authenticate behind the back-off: the user, or None for wrong credentials;
    LoginLocked while locked (the password is then not even checked)."""
    check(request, email)
    user = django_authenticate(request, email=normalize(email), password=password)
    if user is None:
        record_failure(request, email)
    else:
        record_success(request, email)
    return user
