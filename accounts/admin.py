"""Staff manage people here: search by email or name, filter by role and activity."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts.models import DailyTokenUsage, User


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"  # an admin form, not a DTO: staff edit every field


class DailyTokenUsageInline(admin.TabularInline):
    model = DailyTokenUsage
    extra = 0
    can_delete = False
    readonly_fields = ("day", "tokens")
    ordering = ("-day",)
    max_num = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ("-date_joined",)
    list_display = ("email", "display_name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "date_joined")
    search_fields = ("email", "display_name", "id")
    readonly_fields = ("id", "date_joined", "last_login")
    inlines = [DailyTokenUsageInline]
    fieldsets = (
        (None, {"fields": ("id", "email", "password", "display_name")}),
        ("Limits", {"fields": ("daily_token_quota",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
