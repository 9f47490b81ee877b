import os
from pathlib import Path

import pytest

# No test may download anything: hub lookups fail at once instead of retrying for ~46 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
SUPPLEMENT = SHARED / "paper" / "vdi_supplementary.txt"
GOLDEN = REPO / "tables" / "mini" / "golden.json"


def golden_cpu_kind() -> str | None:
    """The kind of CPU the committed mini numbers come from (tables/mini/golden.json), or None."""
    import json

    try:
        return json.loads(GOLDEN.read_text(encoding="utf-8")).get("cpu_kind")
    except (OSError, ValueError):
        return None


def same_cpu_as_golden() -> bool:
    """Exact pins of mini numbers hold only on the kind of CPU they were measured on (README,
    "Budgets (2 cores, measured)"): another kind builds other micro-CLIPs from the same code and seed."""
    from vdi_core.store import cpu_kind

    return golden_cpu_kind() in (None, cpu_kind())


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    try:
        import torch

        torch.set_num_threads(min(2, os.cpu_count() or 1))
    except ImportError:
        pass


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real annotation files not found at {SHARED_DATA} (a fresh clone has no ../shared/data)")
    return SHARED_DATA


@pytest.fixture
def isolated_store(tmp_path, monkeypatch):
    """Results and caches in tmp_path, never in the repo."""
    monkeypatch.setenv("VDI_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("VDI_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def splits(tmp_path):
    """The small synthetic grounding splits (tests/grounding_support.py), served to every run."""
    from grounding_support import make_splits, use_splits

    s = make_splits(tmp_path)
    use_splits(s)
    return s
