"""Sign-up, log-in, log-out and password-reset pages: Django session auth for the browser.

The chat page then calls the API with the session cookie and the CSRF token. Attempts count
against the same per-IP limits as the API's register and token endpoints.
"""

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import ValidationError

from accounts import lockout, passwords, services
from accounts.forms import EmailAuthenticationForm, PasswordResetRequestForm, SignUpForm
from accounts.models import TokenFamily
from agentsite.pages import strict_csp
from agentsite.ratelimit import (
    PasswordResetRateThrottle,
    RateLimitThrottle,
    RegisterRateThrottle,
    TokenRateThrottle,
)

TOO_MANY_ATTEMPTS = "Too many attempts from your network. Please wait a few minutes and retry."
TOO_MANY_FAILURES = (
    "Too many failed log-ins. Please retry in {seconds} seconds, or reset your password."
)


def _over_limit(request, throttle: type[RateLimitThrottle]) -> bool:
    return request.method == "POST" and not throttle().allow_request(request, None)


@strict_csp
@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("chat")
    if _over_limit(request, RegisterRateThrottle):
        context = {"form": SignUpForm(), "refusal": TOO_MANY_ATTEMPTS}
        return render(request, "accounts/signup.html", context, status=429)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            user = services.register_user(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
            )
        except services.EmailTaken as exc:  # lost a race for the same email
            form.add_error("email", str(exc.detail))
        except ValidationError as exc:
            for field, messages in exc.detail.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            login(request, user)
            return redirect("chat")
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        """The per-IP limit, then the log-in back-off of the API (accounts/lockout.py)."""
        if _over_limit(request, TokenRateThrottle):
            return self._refuse(TOO_MANY_ATTEMPTS)
        try:
            lockout.check(request, self._email())
        except lockout.LoginLocked as exc:
            return self._refuse(TOO_MANY_FAILURES.format(seconds=exc.wait), retry_after=exc.wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        lockout.record_success(self.request, self._email())
        return super().form_valid(form)  # login(): a new session key (no fixation)

    def form_invalid(self, form):
        if self._email() and self.request.POST.get("password"):
            lockout.record_failure(self.request, self._email())
        return super().form_invalid(form)

    def _email(self) -> str:
        return lockout.normalize(self.request.POST.get("username", ""))

    def _refuse(self, refusal: str, retry_after: int | None = None):
        context = self.get_context_data(form=self.get_form_class()(self.request))
        response = self.render_to_response({**context, "refusal": refusal}, status=429)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response


log_in = strict_csp(LoginView.as_view())
log_out = auth_views.LogoutView.as_view()  # POST only, then LOGOUT_REDIRECT_URL


@strict_csp
@require_http_methods(["GET", "POST"])
def password_reset(request):
    """Ask for a reset link. The page says the same whether or not the address has an account."""
    if _over_limit(request, PasswordResetRateThrottle):
        context = {"form": PasswordResetRequestForm(), "refusal": TOO_MANY_ATTEMPTS}
        return render(request, "accounts/password_reset.html", context, status=429)
    form = PasswordResetRequestForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        link_base = request.build_absolute_uri(reverse("password-reset-page"))
        passwords.request_reset(form.cleaned_data["email"], link_base)
        return render(request, "accounts/password_reset.html", {"sent": True})
    return render(request, "accounts/password_reset.html", {"form": form})


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's page for the mailed link (it moves the token out of the URL first, so it
    never leaks in a Referer); setting the password also ends every log-in of the person."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)  # saves the password: the link is spent
        services.revoke_all_tokens(form.user, TokenFamily.Revoked.PASSWORD)
        return response


password_reset_confirm = strict_csp(PasswordResetConfirmView.as_view())
password_reset_complete = strict_csp(
    auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"
    )
)
