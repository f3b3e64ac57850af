"""Serializer pieces every app's DTOs share."""

from rest_framework import serializers


class RejectUnknownFieldsMixin:
    """Input DTOs list what they accept; anything else is a 400, not silently dropped.

    A client that sends `is_staff` or a misspelt field learns about it instead of believing
    it took effect.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["This field is not accepted."] for name in unknown}
                )
        return super().to_internal_value(data)
