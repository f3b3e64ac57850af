"""The `Staff` group and its permissions (accounts/staff.py)."""

from django.db import migrations

from accounts.staff import STAFF_GROUP, ensure_staff_group


def create_staff_group(apps, schema_editor):
    ensure_staff_group(apps)


def remove_staff_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=STAFF_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("agents", "0005_message_memories"),
        ("memory", "0002_memory_tables"),
        ("evaluation", "0002_default_schedule"),
    ]

    operations = [migrations.RunPython(create_staff_group, remove_staff_group)]
