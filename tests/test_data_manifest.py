"""The data manifest: validation, verify on the real files, checksum mismatch, fetch over HTTP."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import re
import threading

import pytest

from vdi_core.cli import main
from vdi_core.data.fetch import fetch
from vdi_core.data.manifest import Artefact, check, file_digests, load_manifest, select
from vdi_core.errors import VdiError


def _art(**kw) -> Artefact:
    base = dict(name="x", group="g", title="t", path="d/x.txt", urls=("http://127.0.0.1:1/x.txt",),
                license="l", fetch="auto")
    return Artefact(**{**base, **kw})


def test_manifest_lists_every_artefact_of_the_issue():
    m = load_manifest()
    groups = {a.group for a in m.values()}
    assert {"charades_sta", "charades_cg", "charades_cd", "activitynet_captions", "activitynet_cg",
            "activitynet_cd", "svo_probes", "charades_videos", "charades_vgg", "clip_weights", "distilbert"} <= groups
    assert m["charades_vgg_2dtan"].fetch == "manual" and m["charades_vgg_2dtan"].instructions
    assert m["charades_cg_novel_word"].records == {"videos": 580, "queries": 695}
    assert [a.name for a in select(["charades_cg"])] == [
        "charades_cg_train", "charades_cg_novel_composition", "charades_cg_novel_word", "charades_cg_test_trivial"]
    with pytest.raises(VdiError, match="did you mean 'charades_cg'"):
        select(["charades_gc"])


@pytest.mark.parametrize("line, message", [
    ('colour = "red"', "unknown key 'colour'"),
    ('sha256 = "abc"', "not a lower-case hex digest"),
    ('fetch = "sometimes"', 'fetch must be "auto" or "manual"'),
])
def test_manifest_validation(tmp_path, line, message):
    body = ('[artefact.a]\ngroup = "g"\ntitle = "t"\npath = "a.txt"\nurls = ["http://x"]\n'
            f'license = "l"\nfetch = "auto"\n{line}\n')
    if line.startswith("fetch"):
        body = body.replace('fetch = "auto"\n', "")
    (tmp_path / "m.toml").write_text(body)
    with pytest.raises(VdiError, match=re.escape(message)):
        load_manifest(tmp_path / "m.toml")


def test_manual_artefact_needs_instructions(tmp_path):
    (tmp_path / "m.toml").write_text('[artefact.a]\ngroup = "g"\ntitle = "t"\npath = "a.txt"\n'
                                     'urls = ["http://x"]\nlicense = "l"\nfetch = "manual"\n')
    with pytest.raises(VdiError, match="needs 'instructions'"):
        load_manifest(tmp_path / "m.toml")


def test_check_states(tmp_path):
    payload = b"hello manifest\n"
    sha = hashlib.sha256(payload).hexdigest()
    blob = hashlib.sha1(b"blob %d\0" % len(payload) + payload).hexdigest()
    assert check(_art(sha256=sha), tmp_path)[0] == "missing"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_bytes(payload)
    assert file_digests(tmp_path / "d" / "x.txt") == (sha, blob)
    assert check(_art(sha256=sha), tmp_path)[0] == "verified"
    assert check(_art(git_blob=blob), tmp_path)[0] == "verified"
    assert check(_art(), tmp_path)[0] == "unhashed"
    state, detail = check(_art(sha256="0" * 64), tmp_path)
    assert state == "mismatch" and "vdi data fetch x" in detail
    assert check(_art(size=3), tmp_path)[0] == "mismatch"


@pytest.mark.shared_data
def test_manifest_hashes_match_sources_md(shared_data):
    text = (shared_data / "SOURCES.md").read_text()
    for a in load_manifest().values():
        if a.sha256 and not a.group.startswith(("clip", "charades_videos")):
            assert a.sha256 in text, a.name
        if a.git_blob:
            assert a.git_blob in text, a.name


@pytest.mark.shared_data
def test_verify_shared_data(capsys, shared_data):
    assert main(["data", "verify", "--root", str(shared_data)]) == 0
    out = capsys.readouterr().out
    states = {name: state for state, name in re.findall(r"^(verified|missing|mismatch|unhashed)\s+(\S+)", out, re.M)}
    present = {n for n, a in load_manifest().items() if (shared_data / a.path).is_file()}
    assert len(present) == 24
    assert {n for n, s in states.items() if s == "verified"} == present
    assert {n for n, s in states.items() if s == "missing"} == set(load_manifest()) - present
    assert "summary: 10 missing, 24 verified" in out


@pytest.mark.shared_data
def test_verify_reports_checksum_mismatch(tmp_path, capsys, shared_data):
    (tmp_path / "charades_cg").mkdir()
    data = bytearray((shared_data / "charades_cg" / "novel_word.json").read_bytes())
    data[100] ^= 1  # one flipped bit, same size
    (tmp_path / "charades_cg" / "novel_word.json").write_bytes(data)
    assert main(["data", "verify", "--root", str(tmp_path), "charades_cg"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "charades_cg_novel_word" in err and "vdi data fetch charades_cg_novel_word" in err


@pytest.fixture
def http_dir(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_and_checks(http_dir, tmp_path):
    served, base = http_dir
    payload = b"AO8RW 0.0 6.9##a person is putting a book on a shelf.\n"
    (served / "x.txt").write_bytes(payload)
    root = tmp_path / "root"
    good = _art(urls=(f"{base}/missing.txt", f"{base}/x.txt"), sha256=hashlib.sha256(payload).hexdigest())
    path = fetch(good, root, progress=False, log=lambda m: None)
    assert path.read_bytes() == payload and check(good, root)[0] == "verified"
    bad = dataclasses.replace(good, path="d/y.txt", urls=(f"{base}/x.txt",), sha256="1" * 64)
    with pytest.raises(VdiError, match="failed its checksum"):
        fetch(bad, root, progress=False, log=lambda m: None)
    assert sorted(p.name for p in (root / "d").iterdir()) == ["x.txt"]  # nothing partial left


def test_fetch_manual_artefact_explains(tmp_path):
    with pytest.raises(VdiError, match="cannot be downloaded automatically: open the page"):
        fetch(_art(fetch="manual", instructions="open the page"), tmp_path, log=lambda m: None)


def test_status_lists_missing_with_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VDI_DATA", str(tmp_path))
    (tmp_path / "charades_cg").mkdir()
    (tmp_path / "charades_cg" / "train.json").write_text("{}")
    assert main(["data", "status", "charades_cg", "charades_vgg"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"data root: {tmp_path}"
    assert "present  charades_cg_train" in out and "missing  charades_cg_novel_word" in out
    assert "get it: vdi data fetch charades_cg_novel_word" in out and "get it: download by hand" in out
