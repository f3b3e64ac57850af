"""Create (once) the development demo account and print how to sign in with it."""

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from accounts.models import User

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo user for local development (staff, so /admin/ works too)."

    def handle(self, *args, **options):
        database = connection.settings_dict["NAME"]  # one demo password per database
        password_file = Path(settings.BASE_DIR) / ".data" / f"demo-password-{database}"
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None or not password_file.exists():
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password = secrets.token_urlsafe(12)
            password_file.touch(mode=0o600)
            password_file.write_text(password)
            if user is None:
                user = User.objects.create_superuser(DEMO_EMAIL, password, display_name="Demo")
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
        self.stdout.write(
            f"Demo login: {DEMO_EMAIL} / {password_file.read_text().strip()} (web, API and /admin/)"
        )
