"""What a webhook subscription may name and where it may be sent, without a broker."""
from fengqiao import catalog
from fengqiao.auth import Principal
from services.notify import subscriptions

KNOWN = frozenset(catalog.load())


def test_types_prefixes_and_everything_are_names_anything_else_is_refused_by_position():
    good = ["case.assigned", "mediation.*", "notification.*", "*"]
    assert subscriptions.event_type_errors(good, KNOWN) == {}
    errors = subscriptions.event_type_errors(["case.assigned", "case.assign", "cases.*", "case*", "case.*.x"], KNOWN)
    assert set(errors) == {1, 2, 3, 4}
    assert "case.*" in errors[1] and "deadline.*" in errors[1]  # says what would do


def test_an_address_is_absolute_http_or_https_and_carries_no_credentials():
    assert subscriptions.url_error("https://data.songhe.example/in") is None
    assert subscriptions.url_error("http://10.0.0.5:8080/hook?x=1") is None
    for url in ("ftp://example.org/x", "/relative", "https://", "mailto:a@b.c", "javascript:alert(1)"):
        assert subscriptions.url_error(url) is not None, url
    assert "credentials" in subscriptions.url_error("https://user:pw@example.org/")


def test_an_integrator_manages_its_own_subscriptions_an_operator_every_one():
    mine = {"created_by": "county-platform"}
    assert subscriptions.may_manage(Principal("county-platform", ("integrator",), "SH"), mine)
    assert not subscriptions.may_manage(Principal("hotline", ("integrator",), "SH"), mine)
    assert subscriptions.may_manage(Principal("ops-1", ("operator",), "SH"), mine)
