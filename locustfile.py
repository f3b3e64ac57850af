"""Load test: the people of `devtools/stress/people.py` against a running server.

`make load` runs it against `make dev` or any server (headless, bounded by --run-time);
`make stress` runs it against its own server with the primary model throttled for a while.
Without --run-time this file sets one, so a forgotten flag never leaves a load test running.
"""

from locust import events

from devtools.stress.people import Person

__all__ = ["Person"]
DEFAULT_RUN_TIME_SECONDS = 60


@events.init.add_listener
def _bounded_run(environment, **_):
    options = environment.parsed_options
    if options is not None and not options.run_time:
        options.run_time = DEFAULT_RUN_TIME_SECONDS
