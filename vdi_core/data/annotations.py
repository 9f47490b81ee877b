"""Loaders for the real annotation formats, with MMN's moment policy.

Formats (see ../shared/data/README.md): Charades-STA text lines `<vid> <start> <end>##<sentence>`
with durations from the Charades v1 csv; and one JSON layout shared, with key variants, by
Charades-CG, ActivityNet Captions/-CG and Charades-/ActivityNet-CD:
`{vid: {"timestamps": [[s, e], ...], "sentences": [...], "duration" | "video_duration": d}}`
(CD also has frame indices `framestamps` at `decode_fps`; used only when `timestamps` is absent).

Moment policy (METHOD.md, MMN): a moment with start >= end is dropped; otherwise it is clamped to
[max(s, 0), min(e, duration)]. A clamped moment that is still empty (it starts after the video
end, e.g. Charades-CD's swapped LEOL6 [7.0, 8.0] in a 6.375 s video) is dropped too. Every drop
and every clamp is counted by reason, so the loaders never lose a query silently.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..datatypes import Query
from ..errors import VdiError


@dataclass
class AnnotatedVideo:
    vid: str
    duration: float  # seconds
    queries: list[Query] = field(default_factory=list)


@dataclass
class AnnotationSplit:
    name: str  # e.g. "charades_cg/novel_word"
    videos: list[AnnotatedVideo]  # in order of first appearance in the file
    records: int  # lines (text) or sentences (JSON) read, before any drop
    skipped: Counter = field(default_factory=Counter)  # dropped queries by reason
    clamped: Counter = field(default_factory=Counter)  # kept queries whose moment was clamped

    @property
    def num_queries(self) -> int:
        return sum(len(v.queries) for v in self.videos)

    @property
    def video_ids(self) -> set[str]:
        return {v.vid for v in self.videos}


def apply_moment_policy(start: float, end: float, duration: float, skipped: Counter, clamped: Counter):
    """The clamped (start, end), or None when the moment is dropped (reason counted)."""
    if start >= end:
        skipped["start_ge_end"] += 1
        return None
    s, e = max(start, 0.0), min(end, duration)
    if s >= e:
        skipped["outside_video"] += 1
        return None
    if start < 0:
        clamped["start_below_0"] += 1
    if end > duration:
        clamped["end_after_duration"] += 1
    return (s, e)


def _float(text: str, where: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise VdiError(f"{where}: {what} {text!r} is not a number; fix the line or re-fetch the file") from None


def read_charades_durations(csv_paths: list[Path]) -> dict[str, float]:
    """Charades v1 `id -> length` (seconds) from one or more metadata csv files."""
    durations: dict[str, float] = {}
    for path in csv_paths:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"id", "length"} <= set(reader.fieldnames):
                raise VdiError(f"{path}: expected a Charades v1 csv with columns 'id' and 'length', "
                               f"got {reader.fieldnames}; re-fetch it (vdi data fetch charades_sta)")
            for row in reader:
                durations[row["id"]] = _float(row["length"], f"{path}:{reader.line_num}", "length")
    return durations


def load_charades_sta(name: str, txt_path: Path, durations: dict[str, float]) -> AnnotationSplit:
    """One query per line: `<vid> <start> <end>##<sentence>`; split at the first '##'."""
    videos: dict[str, AnnotatedVideo] = {}
    per_video: Counter = Counter()
    split = AnnotationSplit(name, [], 0)
    with open(txt_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{txt_path}:{lineno}"
            head, sep, sentence = line.rstrip("\r\n").partition("##")
            fields = head.split()
            if not sep or len(fields) != 3 or not sentence.strip():
                raise VdiError(f"{where}: expected '<video_id> <start> <end>##<sentence>', got {line.strip()!r}; "
                               "fix the line or re-fetch the file (vdi data fetch charades_sta)")
            vid, start, end = fields[0], _float(fields[1], where, "start"), _float(fields[2], where, "end")
            if vid not in durations:
                raise VdiError(f"{where}: video {vid} has no duration in the Charades v1 csv files; "
                               "fetch them with: vdi data fetch charades_sta")
            split.records += 1
            k = per_video[vid]
            per_video[vid] += 1
            video = videos.setdefault(vid, AnnotatedVideo(vid, durations[vid]))
            moment = apply_moment_policy(start, end, video.duration, split.skipped, split.clamped)
            if moment is not None:
                video.queries.append(Query(f"{vid}#{k}", sentence.strip(), moment))
    split.videos = list(videos.values())
    return split


_DURATION_KEYS = ("duration", "video_duration")


def _json_moments(entry: dict, where: str) -> list:
    if "timestamps" in entry:
        return entry["timestamps"]
    if "framestamps" in entry and "decode_fps" in entry:
        fps = float(entry["decode_fps"])
        return [[fs / fps, fe / fps] for fs, fe in entry["framestamps"]]
    raise VdiError(f"{where}: no 'timestamps' (or 'framestamps' + 'decode_fps') key; is this a grounding JSON?")


def load_grounding_json(name: str, json_path: Path) -> AnnotationSplit:
    """CG / CD / ActivityNet JSON, read as UTF-8; sentences stripped (ANet has leading spaces)."""
    try:
        data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise VdiError(f"{json_path}: not valid JSON ({e}); re-fetch the file with `vdi data fetch`") from None
    if not isinstance(data, dict):
        raise VdiError(f"{json_path}: expected a JSON object keyed by video id, got {type(data).__name__}")
    split = AnnotationSplit(name, [], 0)
    for vid, entry in data.items():
        where = f"{json_path}: key '{vid}'"
        key = next((k for k in _DURATION_KEYS if k in entry), None)
        if key is None:
            raise VdiError(f"{where}: no duration (looked for {', '.join(_DURATION_KEYS)}); fix or re-fetch the file")
        duration = float(entry[key])
        moments, sentences = _json_moments(entry, where), entry.get("sentences")
        if sentences is None or len(sentences) != len(moments):
            raise VdiError(f"{where}: 'sentences' ({'missing' if sentences is None else len(sentences)}) "
                           f"does not match the {len(moments)} moments; fix or re-fetch the file")
        video = AnnotatedVideo(vid, duration)
        for k, (moment, sentence) in enumerate(zip(moments, sentences, strict=True)):
            if len(moment) != 2:
                raise VdiError(f"{where}: moment {k} is {moment!r}, expected [start, end]")
            split.records += 1
            kept = apply_moment_policy(float(moment[0]), float(moment[1]), duration, split.skipped, split.clamped)
            if kept is not None:
                video.queries.append(Query(f"{vid}#{k}", sentence.strip(), kept))
        split.videos.append(video)
    return split
