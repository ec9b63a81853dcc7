"""CLI: python -m vision.datagen --out DIR --count N --seed S [--hard] [--split test]."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vision.datagen.writer import write_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vision.datagen", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="dataset folder (images/, labels/, meta/)")
    parser.add_argument("--count", type=int, required=True, help="number of images")
    parser.add_argument("--seed", type=int, required=True, help="dataset seed (image i uses (seed, i))")
    parser.add_argument("--hard", action="store_true", help="harder ranges: held-out / stress sets")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="last fraction goes to val")
    parser.add_argument("--split", default=None, help="put every image into this split (e.g. test)")
    parser.add_argument("--size", type=int, default=640, help="square image side in pixels")
    parser.add_argument("--people", default=None, help="workers per scene as LOW-HIGH (high exclusive), e.g. 3-8")
    parser.add_argument("--shift", action="store_true", help="site-shift draw: other light, higher cameras, clutter")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.count < 1 or not 0.0 <= args.val_fraction < 1.0:
        parser.error("--count must be ≥ 1 and --val-fraction in [0, 1)")

    people = None
    if args.people:
        try:
            low, high = (int(x) for x in args.people.split("-"))
        except ValueError:
            parser.error("--people must be LOW-HIGH, e.g. 3-8")
        if not 0 <= low < high:
            parser.error("--people needs 0 ≤ LOW < HIGH")
        people = (low, high)

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 100 == 0):
            print(f"\r{done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    summary = write_dataset(
        args.out, args.count, args.seed, args.hard, args.val_fraction, args.split, args.size, progress, people,
        args.shift,
    )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
