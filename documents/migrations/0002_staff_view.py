"""The Staff group may view documents (accounts/staff.py): the group is set again now that the
document model exists (accounts' own migration may have run before it did)."""

from django.db import migrations

from accounts.staff import ensure_staff_group


def update_staff_group(apps, schema_editor):
    ensure_staff_group(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0001_documents_and_chunks"),
        ("accounts", "0002_staff_group"),
    ]

    operations = [migrations.RunPython(update_staff_group, migrations.RunPython.noop)]
