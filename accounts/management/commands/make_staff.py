"""`manage.py make_staff EMAIL`: give an account the staff role (idempotent)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import make_staff


class Command(BaseCommand):
    help = "Make the account with this email staff: the admin's Staff group, read-only."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        try:
            user = make_staff(email)
        except User.DoesNotExist:
            raise CommandError(f"No account with the email {email!r}.") from None
        self.stdout.write(f"{user.email} is staff (group Staff).")
