"""Marshmallow fields shared by the services' schemas."""
from marshmallow import ValidationError, fields, validate


# A month of the county's records, as "YYYY-MM" (years a calendar and a database both hold).
MONTH = validate.Regexp(r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$", error="YYYY-MM, a month from 2000 to 2100")
TEXT_LIMIT = 10_000  # characters: a long petition or session record fits; a flood does not


class Text(fields.String):
    """Free text: surrounding white space stripped before length checks (so "   " is empty),
    NUL characters refused (PostgreSQL cannot store them), and at most `max_length` characters
    (every field has a limit, whatever its own validators say)."""

    def __init__(self, *args, max_length=TEXT_LIMIT, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("contains a NUL character")
        if len(text) > self.max_length:
            raise ValidationError(f"at most {self.max_length} characters")
        return text.strip()
