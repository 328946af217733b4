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
    for url in ("http://[abc", "http://example.org:99999/", "http://example.org:x/", "http://exa mple.org/",
                "http://example.org/\x07"):
        assert subscriptions.url_error(url) is not None, url


def test_loopback_private_link_local_and_unspecified_addresses_are_internal_public_ones_not():
    for address in ("127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "::1", "fe80::1%eth0",
                    "fd00::1", "0.0.0.0", "100.64.0.1"):
        assert subscriptions.internal({address}), address
    assert not subscriptions.internal({"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"})
    assert subscriptions.internal({"93.184.216.34", "10.0.0.1"})  # one inside is enough


def test_an_integrator_manages_its_own_subscriptions_an_operator_every_one():
    mine = {"created_by": "county-platform"}
    assert subscriptions.may_manage(Principal("county-platform", ("integrator",), "SH"), mine)
    assert not subscriptions.may_manage(Principal("hotline", ("integrator",), "SH"), mine)
    assert subscriptions.may_manage(Principal("ops-1", ("operator",), "SH"), mine)
