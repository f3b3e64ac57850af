"""Page-number pagination as API.md gives it: {count, next, previous, results}.

Strict, and documented as enforced: `page` and `page_size` are whole numbers from 1 (page_size
at most 100); anything else is a 400, not silently the default. A page past the last is 404.
"""

import re

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

WHOLE_NUMBER = re.compile(r"[0-9]+")


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = ()

    def limits(self) -> dict[str, dict]:
        """Each query parameter's JSON schema: what the checks below accept."""
        return {
            self.page_query_param: {"type": "integer", "minimum": 1},
            self.page_size_query_param: {
                "type": "integer",
                "minimum": 1,
                "maximum": self.max_page_size,
            },
        }

    def paginate_queryset(self, queryset, request, view=None):
        errors = {}
        for name, schema in self.limits().items():
            raw = request.query_params.get(name)
            if raw is None:
                continue
            if not WHOLE_NUMBER.fullmatch(raw):
                errors[name] = ["A whole number is required."]
            elif not schema["minimum"] <= int(raw) <= schema.get("maximum", int(raw)):
                errors[name] = [_range(schema)]
        if errors:
            raise ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"] = self.limits()[parameter["name"]]
        return parameters


def _range(schema: dict) -> str:
    """What a number out of ``schema``'s range is told ("Must be at least 1." for a page)."""
    if "maximum" in schema:
        return f"Must be from {schema['minimum']} to {schema['maximum']}."
    return f"Must be at least {schema['minimum']}."
