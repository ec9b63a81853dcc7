"""Key rotation for personal data at rest (密钥轮换): re-encrypt, in the background, what is not under the current key.

Every encrypted column is listed in ``ENCRYPTED`` with the context bound to it and its lookup-hash column.
``reencrypt`` walks the rows whose value carries another key id (or none: written before key ids) in small
batches, each locked ``FOR UPDATE SKIP LOCKED`` in its own transaction, so readers and writers go on (both keys
decrypt while it runs), two runs never take the same row, and a run killed half-way leaves every row readable
and is simply started again. Lookup hashes come from a key of their own that does not rotate; a value written
before key ids also gets its lookup hash re-computed under that key.
"""

from __future__ import annotations

import structlog

from backend.settings import Settings
from backend.workforce.pii import PiiCipher, cipher
from backend.workforce.tables import Worker

log = structlog.get_logger("zhijian.pii")

# (table, encrypted column, context bound as associated data, lookup-hash column or "")
ENCRYPTED: tuple[tuple[str, str, str, str], ...] = (
    ("workers", "id_number_enc", "id_number", "id_number_hash"),
    ("workers", "phone_enc", "phone", "phone_hash"),
    ("workers", "bank_card_enc", "bank_card", ""),
    ("cameras", "url_credentials", "camera_url", ""),  # credentials embedded in a camera's URL (issue 17)
    ("webhooks", "secret", "webhook_secret", ""),  # a department webhook's signing secret (issue 17)
)


def _stale(c: PiiCipher, value: str) -> bool:
    return bool(value) and not value.startswith(c.prefix)


async def _batch(c: PiiCipher, table: str, fields: list[tuple[str, str, str]], size: int) -> int:
    cols = [f for f, _, _ in fields]
    hashes = [h for _, _, h in fields if h]
    where = " OR ".join(f"({f} <> '' AND left({f}, {len(c.prefix)}) <> {{}})" for f in cols)
    async with Worker._meta.db.transaction():
        rows = await Worker.raw(
            f"SELECT id, {', '.join(cols)} FROM {table} WHERE {where} LIMIT {size} FOR UPDATE SKIP LOCKED",
            *([c.prefix] * len(cols)),
        )
        if not rows:
            return 0
        updates: dict[str, list[str]] = {name: [] for name in [*cols, *hashes]}
        for row in rows:
            for column, context, hash_column in fields:
                value = row[column]
                if not _stale(c, value):
                    updates[column].append(value)
                    if hash_column:
                        updates[hash_column].append(None)  # keep as is
                    continue
                plain = c.decrypt(value, context)
                updates[column].append(c.encrypt(plain, context))
                if hash_column:
                    # a value from before key ids carries a lookup hash from before the lookup key
                    updates[hash_column].append(c.lookup(plain, context) if c.key_id_of(value) is None else None)
        sets = [f"{name} = u.{name}" for name in cols]
        sets += [f"{name} = coalesce(u.{name}, t.{name})" for name in hashes]
        arrays = ", ".join(["{}::uuid[]", *["{}::text[]"] * (len(cols) + len(hashes))])
        await Worker.raw(
            f"UPDATE {table} t SET {', '.join(sets)} FROM unnest({arrays}) AS u(id, {', '.join([*cols, *hashes])})"
            " WHERE t.id = u.id",
            [r["id"] for r in rows], *(updates[name] for name in [*cols, *hashes]),
        )
        return len(rows)


async def reencrypt(settings: Settings, *, batch: int = 500, limit: int | None = None) -> dict[str, int]:
    """Re-encrypt every personal value not under ``PII_KEY_ID``; returns rows done per table."""
    c = cipher(settings)
    tables: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, context, hash_column in ENCRYPTED:
        tables.setdefault(table, []).append((column, context, hash_column))
    done: dict[str, int] = {}
    for table, fields in tables.items():
        total = 0
        while limit is None or total < limit:
            n = await _batch(c, table, fields, batch if limit is None else min(batch, limit - total))
            if n == 0:
                break
            total += n
        done[table] = total
    log.info("pii_reencrypted", key_id=c.key_id, rows=done)
    return done


async def remaining(settings: Settings) -> int:
    """Values not yet under the current key (0 when a rotation is complete)."""
    c = cipher(settings)
    total = 0
    for table, column, _, _ in ENCRYPTED:
        rows = await Worker.raw(
            f"SELECT count(*) AS n FROM {table} WHERE {column} <> '' AND left({column}, {len(c.prefix)}) <> {{}}",
            c.prefix,
        )
        total += rows[0]["n"]
    return total
