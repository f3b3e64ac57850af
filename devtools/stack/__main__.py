"""`python -m devtools.stack start|stop|status [--profile dev|test]`, without Django."""

import argparse
import sys

from . import PROFILES, StackError, ensure_running, format_status, format_urls, status, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.stack", description="Local Postgres + Valkey."
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            print(format_urls(ensure_running(args.profile)))
        elif args.action == "stop":
            stop(args.profile)
            print(format_status(status(args.profile)))
        else:
            print(format_status(status(args.profile)))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
