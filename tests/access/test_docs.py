"""docs/ACCESS.md is the route table in words: regenerated, it does not change."""

from pathlib import Path

from backend.access.docs import render


def test_access_md_is_generated_from_the_table():
    path = Path(__file__).resolve().parents[2] / "docs" / "ACCESS.md"
    assert path.read_text(encoding="utf-8") == render(), "run: python -m backend.access.docs > docs/ACCESS.md"


def test_every_resource_action_is_documented_in_words():
    from backend.access.policy import ACTIONS, RULES, WORDS

    names = {*ACTIONS, *RULES}
    assert not set(ACTIONS) & set(RULES), "an action is either a relation (ACTIONS) or a rule (RULES), not both"
    missing = sorted(n for n in names if not WORDS.get(n, "").strip())
    assert not missing, f"add these to backend.access.policy.WORDS: {missing}"
    assert not sorted(set(WORDS) - names), "WORDS names an action that no longer exists"
    page = render()
    for name in names:
        assert f"| `{name}` |" in page, name
