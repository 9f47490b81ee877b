"""SVO-Probes (Hendricks & Nematzadeh 2021) for Table 1: the csv, its local images, the fetcher.

One csv row = (sentence, positive image, negative image); flags `subj_neg` / `verb_neg` /
`obj_neg` say which slot the negative changes. The images live on third-party hosts and rot, so
`fetch_svo_images` downloads what it can into `<root>/svo_probes/images/<image_id>.jpg` and
the loader counts every row it cannot score (per negative type) instead of dropping it silently.
Column formats are taken liberally (../shared/data/README.md §7 lists what loaders have met).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VdiError
from ..io import atomic_write, atomic_write_text

NEG_TYPES = ("subject", "verb", "object")
FLAG_COLUMNS = {"subject": "subj_neg", "verb": "verb_neg", "object": "obj_neg"}
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n", ""}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class SvoRow:
    line: int  # line number in the csv (header = 1), for error messages and reports
    sentence: str
    pos_image: str  # image key: the csv's image id, or a hash of the URL when there is none
    neg_image: str
    pos_url: str
    neg_url: str
    neg_types: tuple[str, ...]  # which slots the negative changes (normally exactly one)


def image_key(image_id: str, url: str) -> str:
    image_id = (image_id or "").strip()
    if image_id.endswith(".0") and image_id[:-2].isdigit():  # pandas round-trips ints as floats
        image_id = image_id[:-2]
    if image_id:
        return image_id
    if not url:
        raise ValueError("neither an image id nor a URL")
    return "url-" + hashlib.sha1(url.strip().encode()).hexdigest()[:16]


def parse_flag(value: str, where: str) -> bool:
    v = (value or "").strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise VdiError(f"{where}: expected True/False, got {value!r}; fix the csv or re-fetch it")


def parse_triplet(value: str) -> tuple[str, ...] | None:
    """'man,sit,grass', "['man,sit,grass', 'man,stand,grass']" (first one), "('man','sit','grass')"."""
    v = (value or "").strip()
    if not v:
        return None
    if v[0] in "[(":
        try:
            parsed = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            parsed = v.strip("[]()").split(",")
        if parsed and all(isinstance(p, str) for p in parsed) and all("," not in p for p in parsed):
            slots = tuple(p.strip().lower() for p in parsed)  # one triplet written as a list of slots
            return slots if len(slots) == 3 else None
        v = str(parsed[0]) if parsed else ""
    parts = tuple(p.strip().strip("'\"").lower() for p in v.split(","))
    return parts if len(parts) == 3 else None


def _types_from_triplets(pos: str, neg: str) -> tuple[str, ...]:
    a, b = parse_triplet(pos), parse_triplet(neg)
    if a is None or b is None:
        return ()
    return tuple(t for t, x, y in zip(NEG_TYPES, a, b, strict=True) if x != y)


def read_svo_csv(path: Path) -> list[SvoRow]:
    """Parse svo_probes.csv. Negative types come from the three flags when the csv has them,
    else from which slot of pos_triplet / neg_triplet differs."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        has_ids = "pos_image_id" in columns or "pos_url" in columns
        if "sentence" not in columns or not has_ids:
            raise VdiError(
                f"{path}: expected columns sentence and pos_image_id/neg_image_id or pos_url/neg_url, "
                f"found {sorted(columns)}; is this the SVO-Probes csv?"
            )
        flags = all(c in columns for c in FLAG_COLUMNS.values())
        if not flags and not ("pos_triplet" in columns and "neg_triplet" in columns):
            raise VdiError(f"{path}: needs subj_neg/verb_neg/obj_neg or pos_triplet/neg_triplet columns")
        rows = []
        for line, raw in enumerate(reader, start=2):

            def get(key: str, raw: dict = raw) -> str:
                return (raw.get(columns.get(key, ""), "") or "").strip()

            where = f"{path}:{line}"
            if flags:
                types = tuple(t for t, col in FLAG_COLUMNS.items() if parse_flag(get(col), f"{where} ({col})"))
            else:
                types = _types_from_triplets(get("pos_triplet"), get("neg_triplet"))
            try:
                pos = image_key(get("pos_image_id"), get("pos_url"))
                neg = image_key(get("neg_image_id"), get("neg_url"))
            except ValueError as e:
                raise VdiError(f"{where}: {e}; every row needs pos/neg image ids or URLs") from e
            rows.append(SvoRow(line, get("sentence"), pos, neg, get("pos_url"), get("neg_url"), types))
    return rows


def find_image(images_dir: Path, key: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        p = Path(images_dir) / f"{key}{suffix}"
        if p.is_file():
            return p
    return None


def load_image(path: Path, short_side: int = 224) -> np.ndarray:
    """RGB uint8. Larger images are shrunk so the shorter side is `short_side`, with the same
    size rule and filter as CLIP's Resize, so the preprocessing result is unchanged while ~14k
    decoded images fit in memory."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        short, long = min(w, h), max(w, h)
        if short_side and short > short_side:
            new_long = int(short_side * long / short)
            size = (short_side, new_long) if w <= h else (new_long, short_side)
            im = im.resize(size, Image.Resampling.BICUBIC)
        return np.asarray(im, dtype=np.uint8).copy()


def load_svo_triplets(csv_path: Path, images_dir: Path, *, short_side: int = 224, log=print):
    """(triplets, unavailable): one Triplet per row with exactly one negative type whose two
    images load. Every other row is counted in `unavailable` under a reason:
    rows_missing_image.<type>, rows_multi_type, rows_no_type; and images_missing /
    images_unreadable count distinct images."""
    from ..datatypes import Triplet

    rows = read_svo_csv(Path(csv_path))
    unavailable = {f"rows_missing_image.{t}": 0 for t in NEG_TYPES}
    unavailable.update(rows_multi_type=0, rows_no_type=0, images_missing=0, images_unreadable=0)
    images: dict[str, np.ndarray | None] = {}

    def image(key: str) -> np.ndarray | None:
        if key not in images:  # each image is decoded once and shared by all its rows
            path = find_image(Path(images_dir), key)
            if path is None:
                unavailable["images_missing"] += 1
                images[key] = None
            else:
                try:
                    images[key] = load_image(path, short_side)
                except Exception as e:  # noqa: BLE001 - a corrupt download is counted, not fatal
                    log(f"svo-probes: cannot read {path}: {type(e).__name__}: {e}")
                    unavailable["images_unreadable"] += 1
                    images[key] = None
        return images[key]

    triplets = []
    for r in rows:
        if len(r.neg_types) != 1:
            unavailable["rows_multi_type" if r.neg_types else "rows_no_type"] += 1
            continue
        pos, neg = image(r.pos_image), image(r.neg_image)
        if pos is None or neg is None:
            unavailable[f"rows_missing_image.{r.neg_types[0]}"] += 1
            continue
        triplets.append(Triplet(sentence=r.sentence, positive=pos, negative=neg, neg_type=r.neg_types[0]))
    lost = sum(unavailable[f"rows_missing_image.{t}"] for t in NEG_TYPES)
    log(f"svo-probes: {len(triplets)} of {len(rows)} rows scored; {lost} rows lack an image "
        f"({unavailable['images_missing']} images missing, {unavailable['images_unreadable']} unreadable); "
        f"{unavailable['rows_multi_type']} rows change several slots, {unavailable['rows_no_type']} none")
    return triplets, unavailable


def _download(url: str, timeout: float) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "vdi-repro (svo-probes fetch)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def _fetch_one(key: str, url: str, out_dir: Path, timeout: float) -> str:
    from PIL import Image

    target = out_dir / f"{key}.jpg"
    if target.is_file():
        return "present"
    if not url:
        return "failed: no URL"
    try:
        data = _download(url, timeout)
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")
        atomic_write(target, lambda tmp: rgb.save(tmp, format="JPEG", quality=95))  # never half an image
        return "downloaded"
    except Exception as e:  # noqa: BLE001 - every failure of a third-party host is recorded
        return f"failed: {type(e).__name__}: {str(e)[:120]}"


def fetch_svo_images(csv_path: Path, out_dir: Path, *, timeout: float = 15.0, workers: int = 16,
                     log=print) -> dict[str, int]:
    """Download every image the csv names into out_dir/<image_key>.jpg (skipping present ones).
    Unreachable images are listed in out_dir/failed.tsv (key, url, reason) and counted."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    urls: dict[str, str] = {}
    for r in read_svo_csv(Path(csv_path)):
        urls.setdefault(r.pos_image, r.pos_url)
        urls.setdefault(r.neg_image, r.neg_url)
    keys = sorted(urls)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda k: _fetch_one(k, urls[k], out_dir, timeout), keys))
    counts = {"images": len(keys), "present": 0, "downloaded": 0, "failed": 0}
    failed_lines = []
    for key, res in zip(keys, results, strict=True):
        state = res.split(":")[0]
        counts[state] += 1
        if state == "failed":
            failed_lines.append(f"{key}\t{urls[key]}\t{res[len('failed: '):]}\n")
    report = out_dir / "failed.tsv"
    atomic_write_text(report, "".join(failed_lines))
    log(f"svo-probes images: {counts['downloaded']} downloaded, {counts['present']} already present, "
        f"{counts['failed']} failed (listed in {report})")
    return counts
