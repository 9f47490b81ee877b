"""The one registry behind tasks, data sources, text towers and injection forms."""

import subprocess
import sys
from pathlib import Path

import pytest

from vdi_core.backbones import BACKBONES
from vdi_core.errors import VdiError
from vdi_core.registry import Registry
from vdi_core.sources import register_source, source_entry
from vdi_core.tasks import TASKS
from vdi_core.towers.factory import TEXT_TOWERS
from vdi_core.vdi.forms import INJECTION_FORMS


def one(x):
    return x + 1


def two(x):
    return x + 2


def test_register_get_and_decorator():
    reg = Registry("widget")
    reg.register("one", one)

    @reg.register("two")
    def _two(x):
        return x + 2

    assert reg.get("one")(1) == 2 and reg.get("two")(1) == 3
    assert reg.names() == ("one", "two") and "one" in reg and "three" not in reg and len(reg) == 2


def test_a_second_object_under_one_name_is_an_error_not_an_overwrite():
    reg = Registry("widget")
    reg.register("w", one)
    reg.register("w", one)  # the same object again (a module imported twice): fine
    with pytest.raises(VdiError, match=r"widget 'w' is registered twice \(test_registry:one and test_registry:two\)"):
        reg.register("w", two)
    assert reg.get("w") is one


def test_unknown_name_says_did_you_mean_and_how_to_add_one():
    reg = Registry("widget", fix="register it in widgets.py")
    reg.register("relational", one)
    reg.register("consistent", two)
    with pytest.raises(VdiError, match=r"unknown widget 'relatonal' \(did you mean 'relational'\?\); register it in"):
        reg.get("relatonal")
    with pytest.raises(VdiError, match=r"unknown widget 'zzz' \(valid: consistent, relational\)"):
        reg.get("zzz")


def test_lazy_entries_import_on_first_lookup_only():
    reg = Registry("widget")
    sys.modules.pop("json.tool", None)
    reg.register("tool", "json.tool:main")
    assert "json.tool" not in sys.modules  # listing and `in` import nothing
    assert "tool" in reg and reg.names() == ("tool",)
    import json.tool

    assert reg.get("tool") is json.tool.main
    with pytest.raises(VdiError, match="a lazy entry is 'package.module:attr'"):
        reg.register("bad", "json.tool")


def test_a_lazy_entry_accepts_the_object_it_names_but_not_another():
    reg = Registry("widget")
    reg.register("w", f"{__name__}:one")
    reg.register("w", one)  # the module the entry names registering its own object
    assert reg.get("w") is one
    reg2 = Registry("widget")
    reg2.register("w", f"{__name__}:one")
    with pytest.raises(VdiError, match="registered twice"):
        reg2.register("w", len)
    with pytest.raises(VdiError, match="registered twice"):
        reg2.register("w", two)  # the same module, another object


def test_the_suite_registries_list_their_entries_without_importing_torch():
    code = ("import sys\n"
            "from vdi_core.backbones import BACKBONES\n"
            "from vdi_core.tasks import TASKS\n"
            "from vdi_core.towers.factory import TEXT_TOWERS\n"
            "from vdi_core.vdi.forms import INJECTION_FORMS\n"
            "print([r.names() for r in (TASKS, INJECTION_FORMS, TEXT_TOWERS, BACKBONES)])\n"
            "print(sorted(m for m in ('torch', 'open_clip', 'spacy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.splitlines()
    assert out[0] == str([("grounding", "probe", "word_weights"), ("consistent", "relational"),
                          ("open_clip", "hf", "bag-of-words"),
                          ("vit-joint", "vit-joint-linear", "resnet-joint", "separated", "gt-states",
                           "gt-states-static")])
    assert out[1] == "[]"
    assert set(TASKS.names()) >= {"grounding", "probe", "word_weights"}
    assert INJECTION_FORMS.get("relational").__module__ == "vdi_core.vdi.forms"
    assert TEXT_TOWERS.names() == ("open_clip", "hf", "bag-of-words") and "vit-joint" in BACKBONES


def test_a_second_data_source_under_one_name_is_refused():
    register_source("registry-test", "grounding")(one)
    assert source_entry("registry-test", "grounding").load is one
    with pytest.raises(VdiError, match="data source 'registry-test:grounding' is registered twice"):
        register_source("registry-test", "grounding")(two)
    assert source_entry("registry-test", "grounding").load is one
    with pytest.raises(VdiError, match="profile 'registry-test' has no data source 'grounding2'"):
        source_entry("registry-test", "grounding2")


def test_every_lazy_entry_of_the_suite_resolves():
    """A lazy "module:attr" entry that points nowhere would fail only when a run looks it up; here it fails now."""
    for registry in (TASKS, INJECTION_FORMS, TEXT_TOWERS, BACKBONES):
        for name in registry.names():
            assert registry.get(name) is not None, (registry.kind, name)
    assert all(callable(INJECTION_FORMS.get(n)) for n in INJECTION_FORMS.names())
    assert all(callable(TEXT_TOWERS.get(n)) for n in TEXT_TOWERS.names())
    assert all(TASKS.get(n).name == n for n in ("grounding", "probe", "word_weights"))
