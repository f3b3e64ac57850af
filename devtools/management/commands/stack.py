"""`manage.py stack start|stop|status`: the embedded Postgres + Valkey (see devtools.stack.embedded)."""

from django.core.management.base import BaseCommand, CommandError

from devtools.stack import embedded


class Command(BaseCommand):
    help = "Start, stop or show the embedded Postgres (pgvector) and Valkey for a profile."
    requires_system_checks = []  # the stack must start even while the project doesn't check

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument("--profile", choices=sorted(embedded.PROFILES), default="dev")

    def handle(self, *args, action, profile, **options):
        try:
            if action == "start":
                urls = embedded.ensure_running(profile)
                self.stdout.write(self.style.SUCCESS(f"{profile} stack running"))
                self.stdout.write(embedded.format_urls(urls))
                return
            if action == "stop":
                embedded.stop(profile)
            self.stdout.write(embedded.format_status(embedded.status(profile)))
        except embedded.StackError as exc:
            raise CommandError(str(exc)) from exc
