"""`manage.py stack start|stop|status`: the embedded Postgres + Valkey (see devtools.stack)."""

from django.core.management.base import BaseCommand, CommandError

from devtools import stack


class Command(BaseCommand):
    help = "Start, stop or show the embedded Postgres (pgvector) and Valkey for a profile."
    requires_system_checks = []  # the stack must start even while the project doesn't check

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument("--profile", choices=sorted(stack.PROFILES), default="dev")

    def handle(self, *args, action, profile, **options):
        try:
            if action == "start":
                urls = stack.ensure_running(profile)
                self.stdout.write(self.style.SUCCESS(f"{profile} stack running"))
                self.stdout.write(stack.format_urls(urls))
                return
            if action == "stop":
                stack.stop(profile)
            self.stdout.write(stack.format_status(stack.status(profile)))
        except stack.StackError as exc:
            raise CommandError(str(exc)) from exc
