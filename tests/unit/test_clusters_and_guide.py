from fengqiao.config import REPO_ROOT
from fengqiao.county import load
from services.intake import clusters, guide

COUNTY = load(REPO_ROOT / "deploy/county/sample-county.yaml")


def test_alike_chinese_texts_score_high_and_unlike_ones_low():
    a = "河东社区3号楼冬季暖气不热，室温只有12度"
    b = "河东社区5号楼暖气不热，家里室温十几度"
    c = "邻居在公共通道上堆放杂物，影响通行"
    assert clusters.similarity(a, b) > clusters.DEFAULT_SIMILARITY > 0.1 > clusters.similarity(a, c)
    assert clusters.similarity(a, a) == 1.0 and clusters.similarity("", a) == 0.0


def test_closest_picks_the_most_alike_candidate_above_the_threshold():
    candidates = [{"n": 1, "text": "邻居堆放杂物"}, {"n": 2, "text": "暖气不热，室温太低"}]
    assert clusters.closest("楼里暖气不热，室温低", candidates, clusters.DEFAULT_SIMILARITY)["n"] == 2
    assert clusters.closest("征地补偿标准过低", candidates, clusters.DEFAULT_SIMILARITY) is None


def test_the_guide_names_route_basis_and_alternatives():
    entry = guide.guidance(COUNTY, "wage_arrears")
    assert entry["channel_class"] == "civil_dispute"
    assert entry["lawful_route"] == {"code": "arbitration", "label": "申请仲裁", "outside_petitions": True}
    assert "劳动争议调解仲裁法" in entry["legal_basis"]
    assert [r["code"] for r in entry["other_routes"]] == ["people_mediation", "administrative_handling"]
    assert len(guide.catalogue(COUNTY)) == len(COUNTY.categories)
