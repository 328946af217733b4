"""Who sees what (fengqiao/access.py): a scope is a node and its subtree; discipline reports
only in the discipline role; figures narrowed to the caller's township or village."""
import pytest

from fengqiao import access
from fengqiao.auth import Principal
from fengqiao.config import REPO_ROOT
from fengqiao.county import load
from fengqiao.facts import Forbidden

COUNTY = load(REPO_ROOT / "deploy/county/sample-county.yaml")


def who(scope, *roles):
    return Principal(subject="x", roles=roles or ("handler",), scope=scope)


def test_a_scope_is_its_node_and_everything_below():
    assert access.sees(who("QS"), COUNTY, "QS01-G1") and access.sees(who("QS01"), COUNTY, "QS01")
    assert not access.sees(who("QS"), COUNTY, "BY01")  # another township
    assert not access.sees(who("QS01"), COUNTY, "QS")  # a village does not see its township's own cases
    assert not access.sees(who("QS01"), COUNTY, "QS02-G1")
    assert access.sees(who("SH"), COUNTY, "NOT-IN-THE-FILE")  # the county sees even a place since removed
    assert not access.sees(who("QS"), COUNTY, None)


def test_discipline_reports_only_in_the_discipline_role():
    assert not access.sees(who("SH", "leader", "auditor"), COUNTY, "QS01", "discipline")
    assert access.sees(who("QS", "handler", "discipline_officer"), COUNTY, "QS01", "discipline")
    assert not access.sees(who("BY", "discipline_officer"), COUNTY, "QS01", "discipline")  # of that scope only
    assert access.sees(who("SH", "service"), COUNTY, "QS01", "discipline")  # the services among themselves
    assert access.sees(who("QS", "handler"), COUNTY, "QS01", "civil_dispute")


def test_a_sql_filter_keeps_the_scope_and_leaves_out_discipline_reports():
    clause, params = access.sql_filter(who("QS01"), COUNTY, "c.location", "c.channel_class")
    assert clause == "c.location = ANY(%s) AND c.channel_class IS DISTINCT FROM %s"
    assert set(params[0]) == {"QS01", "QS01-G1", "QS01-G2"} and params[1] == "discipline"
    assert access.sql_filter(who("SH", "discipline_officer"), COUNTY) == ("true", [])


def test_figures_are_narrowed_to_the_callers_township_or_village():
    assert access.narrow(who("SH"), COUNTY, "BY", None) == ("BY", None)
    assert access.narrow(who("QS"), COUNTY, None, None) == ("QS", None)
    assert access.narrow(who("QS"), COUNTY, None, "QS02") == ("QS", "QS02")
    assert access.narrow(who("QS01"), COUNTY, "QS", None) == ("QS", "QS01")
    for asked in (("BY", None), (None, "BY01"), ("QS", "BY01")):
        with pytest.raises(Forbidden, match="outside your jurisdiction"):
            access.narrow(who("QS"), COUNTY, *asked)
    with pytest.raises(Forbidden, match="outside your jurisdiction"):
        access.narrow(who("QS01"), COUNTY, None, "QS02")
    with pytest.raises(Forbidden, match="county, township or village"):
        access.narrow(who("QS01-G1"), COUNTY, None, None)

