"""The personal data map (issue #23, 1): every personal-looking column annotated, the page generated from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from piccolo.columns import ForeignKey, Varchar
from piccolo.conf.apps import Finder
from piccolo.table import create_table_class

from backend.accounts.tables import User
from backend.privacy import datamap

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("database")  # the engine finds its database (no warning)


def test_every_personal_looking_column_is_annotated_and_every_annotation_is_a_column():
    assert datamap.check(Finder().get_table_classes()) == []


def test_the_checker_catches_a_new_personal_column_and_lists_references_to_people():
    ghost = create_table_class("ghost_visits", class_members={
        "visitor_phone": Varchar(), "home_address": Varchar(), "note_text": Varchar(), "visitor": ForeignKey(User)})
    problems = datamap.check([*Finder().get_table_classes(), ghost])
    assert problems == [
        "ghost_visits.home_address: looks personal but has no annotation in backend/privacy/datamap.py FIELDS "
        "(add Personal(...) or NotPersonal(why))",
        "ghost_visits.visitor_phone: looks personal but has no annotation in backend/privacy/datamap.py FIELDS "
        "(add Personal(...) or NotPersonal(why))",
    ]
    assert ("ghost_visits.visitor", "any user") in datamap.references([ghost])


def test_sensitive_items_are_marked_sensitive():
    # PIPL 第28条: financial accounts, whereabouts, specific identity; biometrics (the selfie / face photo)
    for key in ("workers.bank_card_enc", "workers.id_number_enc", "worker_clocks.lng", "worker_clocks.selfie_media_id",
                "workers.face_media_id", "complaints.lat"):
        field = datamap.FIELDS[key]
        assert isinstance(field, datamap.Personal) and field.category == "sensitive", key


def test_the_committed_page_is_a_fresh_render():
    out = subprocess.run([sys.executable, "-m", "backend.cli", "data-map", "--check"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert (ROOT / "docs" / "PERSONAL_DATA.md").read_text() == datamap.render(Finder().get_table_classes())
