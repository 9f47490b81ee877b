"""Loaders for the real annotation formats, with MMN's moment policy.

Formats (see ../shared/data/README.md): Charades-STA text lines `<vid> <start> <end>##<sentence>`
with durations from the Charades v1 csv; and one JSON layout shared, with key variants, by
Charades-CG, ActivityNet Captions/-CG and Charades-/ActivityNet-CD:
`{vid: {"timestamps": [[s, e], ...], "sentences": [...], "duration" | "video_duration": d}}`
(CD also has frame indices `framestamps` at `decode_fps`; used only when `timestamps` is absent).

Moment policy (docs/REPRODUCTION_NOTES.md, data decisions; MMN): a moment with start >= end is
dropped; otherwise it is clamped to
[max(s, 0), min(e, duration)]. A clamped moment that is still empty (it starts after the video
end, e.g. Charades-CD's swapped LEOL6 [7.0, 8.0] in a 6.375 s video) is dropped too. Every drop
and every clamp is counted by reason, so the loaders never lose a query silently.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..datatypes import Query
from ..errors import VdiError
from ..io import DuplicateKey, unique_keys


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
        value = float(text)
    except ValueError:
        raise VdiError(f"{where}: {what} {text!r} is not a number; fix the line or re-fetch the file") from None
    if not math.isfinite(value):  # float() reads "nan" and "inf"; neither is a time
        raise VdiError(f"{where}: {what} {text!r} is not a finite number of seconds; fix the line or re-fetch the file")
    return value


def _number(value, where: str, what: str) -> float:
    """A JSON number (not a string, bool or null) that is finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise VdiError(f"{where}: {what} is {value!r:.60}, expected a number of seconds; fix or re-fetch the file")
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise VdiError(f"{where}: {what} is {value!r:.60}, not a finite number of seconds; fix or re-fetch the file")
    return out


@contextmanager
def _reading(path: Path, fix: str):
    """Turn what reading a text file can raise (not UTF-8, unreadable, a csv with NUL bytes) into
    one line naming the file."""
    try:
        yield
    except UnicodeDecodeError as e:
        raise VdiError(f"{path}: not UTF-8 text (byte {e.start}); {fix}") from None
    except csv.Error as e:
        raise VdiError(f"{path}: not a readable csv ({e}); {fix}") from None
    except OSError as e:
        raise VdiError(f"{path}: cannot be read ({e.strerror or e}); {fix}") from None


def read_charades_durations(csv_paths: list[Path]) -> dict[str, float]:
    """Charades v1 `id -> length` (seconds) from one or more metadata csv files."""
    durations: dict[str, float] = {}
    for path in csv_paths:
        with _reading(path, "re-fetch it (vdi data fetch charades_sta)"), open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"id", "length"} <= set(reader.fieldnames):
                raise VdiError(f"{path}: expected a Charades v1 csv with columns 'id' and 'length', "
                               f"got {reader.fieldnames}; re-fetch it (vdi data fetch charades_sta)")
            for row in reader:
                where = f"{path}:{reader.line_num}"
                length = _float(row["length"], where, "length")
                if durations.get(row["id"], length) != length:  # the last would win silently
                    raise VdiError(f"{where}: video {row['id']} is listed again with length {length} "
                                   f"(before: {durations[row['id']]}); fix the file or re-fetch it")
                durations[row["id"]] = length
                if length <= 0:
                    raise VdiError(f"{where}: length {row['length']!r} of video {row['id']} is not > 0 seconds; "
                                   "fix the line or re-fetch the file (vdi data fetch charades_sta)")
    return durations


def load_charades_sta(name: str, txt_path: Path, durations: dict[str, float]) -> AnnotationSplit:
    """One query per line: `<vid> <start> <end>##<sentence>`; split at the first '##'."""
    videos: dict[str, AnnotatedVideo] = {}
    per_video: Counter = Counter()
    split = AnnotationSplit(name, [], 0)
    with _reading(txt_path, "re-fetch it (vdi data fetch charades_sta)"), open(txt_path, encoding="utf-8") as f:
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
        moments = entry["timestamps"]
        what, scale = "timestamps", 1.0
    elif "framestamps" in entry and "decode_fps" in entry:
        moments = entry["framestamps"]
        fps = _number(entry["decode_fps"], where, "'decode_fps'")
        if fps <= 0:
            raise VdiError(f"{where}: 'decode_fps' is {fps}, expected > 0; fix or re-fetch the file")
        what, scale = "framestamps", 1.0 / fps
    else:
        raise VdiError(f"{where}: no 'timestamps' (or 'framestamps' + 'decode_fps') key; "
                       "is this a grounding JSON?")
    if not isinstance(moments, list):
        raise VdiError(f"{where}: '{what}' is {moments!r:.60}, expected a list of [start, end]; "
                       "fix or re-fetch the file")
    out = []
    for k, moment in enumerate(moments):
        if not isinstance(moment, list) or len(moment) != 2:
            raise VdiError(f"{where}: '{what}'[{k}] is {moment!r:.60}, expected [start, end]; fix or re-fetch the file")
        start = _number(moment[0], where, f"'{what}'[{k}][0]")
        end = _number(moment[1], where, f"'{what}'[{k}][1]")
        out.append((start * scale, end * scale))
    return out


def _sentences(entry: dict, where: str, count: int) -> list[str]:
    sentences = entry.get("sentences")
    if not isinstance(sentences, list) or len(sentences) != count:
        got = "missing" if sentences is None else (len(sentences) if isinstance(sentences, list) else
                                                   f"{sentences!r:.40}")
        raise VdiError(f"{where}: 'sentences' ({got}) does not match the {count} moments; fix or re-fetch the file")
    for k, sentence in enumerate(sentences):
        if not isinstance(sentence, str) or not sentence.strip():
            raise VdiError(f"{where}: 'sentences'[{k}] is {sentence!r:.60}, expected a non-empty sentence; "
                           "fix or re-fetch the file")
    return [s.strip() for s in sentences]


def read_json_file(json_path: Path):
    """Parse an annotation JSON; malformed text, duplicate keys and absurd nesting are one line."""
    fix = "re-fetch the file with `vdi data fetch`"
    try:
        return json.loads(Path(json_path).read_text(encoding="utf-8"), object_pairs_hook=unique_keys)
    except json.JSONDecodeError as e:
        raise VdiError(f"{json_path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno}); {fix}") from None
    except UnicodeDecodeError:
        raise VdiError(f"{json_path}: not UTF-8 text; {fix}") from None
    except DuplicateKey as e:
        raise VdiError(f"{json_path}: key {e.args[0]!r} appears more than once (only the last would be kept); "
                       f"{fix}") from None
    except RecursionError:
        raise VdiError(f"{json_path}: JSON nested too deeply to be annotations; {fix}") from None
    except OSError as e:
        raise VdiError(f"{json_path}: cannot be read ({e.strerror or e}); {fix}") from None


def load_grounding_json(name: str, json_path: Path) -> AnnotationSplit:
    """CG / CD / ActivityNet JSON, read as UTF-8; sentences stripped (ANet has leading spaces).
    Every value is checked where it is read: a malformed entry is one line naming the file, the
    video id and the key, never a traceback or a silently kept NaN."""
    data = read_json_file(json_path)
    if not isinstance(data, dict):
        raise VdiError(f"{json_path}: expected a JSON object keyed by video id, got {type(data).__name__}")
    split = AnnotationSplit(name, [], 0)
    for vid, entry in data.items():
        where = f"{json_path}: key '{vid}'"
        if not isinstance(entry, dict):
            raise VdiError(f"{where}: entry is {entry!r:.60}, expected an object with 'timestamps', 'sentences' "
                           "and 'duration'; fix or re-fetch the file")
        key = next((k for k in _DURATION_KEYS if k in entry), None)
        if key is None:
            raise VdiError(f"{where}: no duration (looked for {', '.join(_DURATION_KEYS)}); fix or re-fetch the file")
        duration = _number(entry[key], where, f"'{key}'")
        if duration <= 0:
            raise VdiError(f"{where}: '{key}' is {entry[key]!r}, expected > 0 seconds; fix or re-fetch the file")
        moments = _json_moments(entry, where)
        sentences = _sentences(entry, where, len(moments))
        video = AnnotatedVideo(vid, duration)
        for k, ((start, end), sentence) in enumerate(zip(moments, sentences, strict=True)):
            split.records += 1
            kept = apply_moment_policy(start, end, duration, split.skipped, split.clamped)
            if kept is not None:
                video.queries.append(Query(f"{vid}#{k}", sentence, kept))
        split.videos.append(video)
    return split
