"""Marshmallow fields shared by the services' schemas."""
from marshmallow import ValidationError, fields


class Text(fields.String):
    """Free text: surrounding white space stripped before length checks (so "   " is empty),
    and NUL characters refused (PostgreSQL cannot store them)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("contains a NUL character")
        return text.strip()
