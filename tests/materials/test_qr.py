"""Label tokens: compact, signed, rotatable; contents inside URLs; the production key check."""

from __future__ import annotations

import uuid

import pytest

from backend.materials import qr
from backend.settings import get_settings


def test_token_is_compact_and_verifies():
    s = get_settings()
    lid = uuid.uuid4()
    token = qr.sign(s, lid)
    assert len(token) == 43 and token.isascii()
    assert qr.verify(s, token) == qr.LabelRef(lid, s.MATERIAL_QR_KEY_ID)


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
    lambda t: t[:5] + ("A" if t[5] != "A" else "B") + t[6:],  # label id changed
    lambda t: "M2" + t[2:],  # unknown version
    lambda t: t + "A",  # length
    lambda t: t.replace(".", "", 1),
    lambda t: "",
])
def test_tampered_tokens_are_refused(mutate):
    s = get_settings()
    with pytest.raises(qr.TokenInvalid):
        qr.verify(s, mutate(qr.sign(s, uuid.uuid4())))


def test_key_rotation_keeps_old_labels_valid_and_url_prefix():
    old = get_settings().replace(MATERIAL_QR_KEY="k" * 40, MATERIAL_QR_KEY_ID=1)
    token = qr.sign(old, uuid.uuid4())
    new = old.replace(MATERIAL_QR_KEY="n" * 40, MATERIAL_QR_KEY_ID=2, MATERIAL_QR_OLD_KEYS=("1:" + "k" * 40,),
                      MATERIAL_QR_URL_PREFIX="https://zj.example.gov.cn/m/")
    assert qr.verify(new, token).key_id == 1
    assert qr.verify(new, qr.content_for(new, token)).key_id == 1
    assert qr.sign(new, uuid.uuid4()).startswith("M1.")
    dropped = new.replace(MATERIAL_QR_OLD_KEYS=())
    with pytest.raises(qr.TokenInvalid) as exc:
        qr.verify(dropped, token)
    assert exc.value.reason == "unknown_key"


def test_production_refuses_the_dev_key():
    # Refused as the settings load, before any label could be signed with it.
    with pytest.raises(ValueError, match="MATERIAL_QR_KEY"):
        get_settings().replace(ENV="production", JWT_SECRET="j" * 40, MATERIAL_QR_KEY=qr.DEV_KEY)


def test_png_decodes_back():
    content = qr.content_for(get_settings(), qr.sign(get_settings(), uuid.uuid4()))
    assert qr.decode_photo(qr.png(content)) == [content]
    assert b"<svg" in qr.svg(content)
