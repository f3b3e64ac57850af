"""The staff role: what a `Staff` group member may see in the admin.

Staff read conversations, memories, documents, scores, evaluation runs and LLM calls, and may
delete a memory (a person's erasure request); nothing else. Superusers keep every permission.
"""

from django.contrib.auth.management import create_permissions

STAFF_GROUP = "Staff"

# (app label, model name, actions); read-only by design, see each app's admin.py.
STAFF_PERMISSIONS = (
    ("agents", "chatsession", ("view",)),
    ("agents", "message", ("view",)),
    ("agents", "llmcall", ("view",)),
    ("memory", "memory", ("view", "delete")),
    ("documents", "document", ("view",)),
    ("evaluation", "evaluationscore", ("view",)),
    ("evaluation", "evaluationrun", ("view",)),
)


def ensure_staff_group(apps):
    """The Staff group holding exactly STAFF_PERMISSIONS, made if missing. `apps` is the
    migration's app registry or django.apps.apps. Permissions are normally created after all
    migrations ran; they are created here first so a fresh database's group can hold them.
    In a migration, models of apps not migrated yet are left out: their own migration calls
    this again once they exist (documents/migrations/0002_staff_view.py)."""
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)  # None: a migration's stub
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    group.permissions.set(
        Permission.objects.get(content_type__app_label=app, codename=f"{action}_{model}")
        for app, model, actions in STAFF_PERMISSIONS
        if _exists(apps, app, model)
        for action in actions
    )
    return group


def _exists(apps, app_label: str, model_name: str) -> bool:
    try:
        apps.get_model(app_label, model_name)
    except LookupError:
        return False
    return True
