"""Sign-up, sign-in and password-reset forms for the web pages (the API has its own DTOs in
serializers.py)."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import User
from agentsite.sanitize import SanitizationError, clean_text


class SignUpForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    display_name = forms.CharField(
        max_length=100,
        required=False,
        label="Name (optional)",
        help_text="How the agent greets you.",
    )
    # Passwords are never trimmed or sanitized: what the person typed is what they log in with.
    password1 = forms.CharField(
        label="Password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)  # "Password", not "Password:"

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email

    def clean_display_name(self):
        try:
            return clean_text(self.cleaned_data["display_name"], max_length=100, multiline=False)
        except SanitizationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            candidate = User(
                email=cleaned.get("email", ""), display_name=cleaned.get("display_name", "")
            )
            try:
                password_validation.validate_password(first, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class EmailAuthenticationForm(AuthenticationForm):
    """Django's sign-in form; the email is compared without case, as accounts are stored."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""  # "Password", not "Password:"

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
