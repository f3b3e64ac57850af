"""Background work of accounts (thin Celery wrappers around services)."""

from celery import shared_task

from accounts import passwords


@shared_task(acks_late=True)
def send_password_reset(email: str, link_base: str) -> bool:
    """Look the address up and mail its reset link, away from the request that asked."""
    return passwords.send_reset_mail(email, link_base)
