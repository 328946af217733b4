import pytest
from marshmallow import Schema, fields

from fengqiao import auth
from fengqiao.dependencies import _path_of
from fengqiao.web import field_errors

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def test_a_token_carries_roles_and_scope():
    who = auth.verify(SECRET, "fengqiao", auth.issue(SECRET, "fengqiao", "u1", ["clerk", "handler"], "QS"))
    assert who == auth.Principal("u1", ("clerk", "handler"), "QS")
    assert who.has_any(["handler"]) and not who.has_any(["auditor"])


def test_a_token_for_another_audience_is_refused():
    with pytest.raises(auth.AuthError):
        auth.verify(SECRET, "fengqiao", auth.issue(SECRET, "elsewhere", "u1", ["clerk"], "QS"))


def test_unknown_roles_cannot_be_issued():
    with pytest.raises(ValueError, match="emperor"):
        auth.issue(SECRET, "fengqiao", "u1", ["emperor"], "QS")


def test_only_bearer_tokens_are_read():
    assert auth.bearer_token("Bearer abc") == "abc"
    for header in (None, "", "Bearer ", "Basic abc"):
        with pytest.raises(auth.AuthError):
            auth.bearer_token(header)


def test_nested_validation_messages_become_one_dotted_list():
    class Person(Schema):
        phone = fields.String(required=True)

    class Reg(Schema):
        channel = fields.String(required=True)
        people = fields.List(fields.Nested(Person), required=True)

    errors = Reg().validate({"people": [{}, {"phone": "1"}]})
    assert sorted(field_errors(errors), key=lambda e: e["field"]) == [
        {"field": "channel", "message": "Missing data for required field."},
        {"field": "people.0.phone", "message": "Missing data for required field."},
    ]


def test_werkzeug_rules_become_openapi_paths():
    assert _path_of("/cases/<number>/timeline") == ("/cases/{number}/timeline", ["number"])
    assert _path_of("/x/<int:id>") == ("/x/{id}", ["id"])


@pytest.mark.parametrize("roles", [[["clerk"]], ["emperor"], [], "clerk"])
def test_tokens_with_malformed_or_unknown_roles_are_refused(roles):
    import time

    import jwt

    token = jwt.encode({"iss": "fengqiao", "aud": "fengqiao", "sub": "u", "exp": int(time.time()) + 60,
                        "roles": roles, "scope": "QS"}, SECRET, algorithm="HS256")
    with pytest.raises(auth.AuthError, match="roles"):
        auth.verify(SECRET, "fengqiao", token)
