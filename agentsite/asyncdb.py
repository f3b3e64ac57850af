"""Blocking ORM work from async code, in parallel.

Django's async ORM sends every query through one thread (thread_sensitive), so under many
concurrent streams all their queries would queue behind each other. These calls run in the
shared thread pool instead, each borrowing a pooled connection and giving it back after.
"""

import functools

from asgiref.sync import sync_to_async
from django.db import connection


def db_call(function):
    """`await db_call(fn)(*args)`: fn runs in a worker thread with its own pooled connection."""

    @functools.wraps(function)
    def run_and_release(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()  # back to the pool; the worker thread keeps nothing

    return sync_to_async(run_and_release, thread_sensitive=False)
