"""JWT authentication that also tells the log context who is calling."""

from rest_framework_simplejwt import authentication

from agentsite import context


class JWTAuthentication(authentication.JWTAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            context.bind(user_id=result[0].pk)
        return result
