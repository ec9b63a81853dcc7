"""docs/ACCESS.md is the route table in words: regenerated, it does not change."""

from pathlib import Path

from backend.access.docs import render


def test_access_md_is_generated_from_the_table():
    path = Path(__file__).resolve().parents[2] / "docs" / "ACCESS.md"
    assert path.read_text(encoding="utf-8") == render(), "run: python -m backend.access.docs > docs/ACCESS.md"
