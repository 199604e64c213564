"""Submission metadata is strictly typed data, and the static checks refuse hostile folders.

Every case builds one folder in ``tmp_path`` that differs from a valid submission by one hostile
value, then reads it the harness's way (``load_submission`` / ``run_static_checks``) and compares
the one error line against the exact text that names the file, the field and the rule.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.checks import head_dependencies, imported_modules, run_static_checks
from harness.submissions import METADATA, SubmissionError, import_head_class, load_submission

BASE = {
    "name": '"probe"', "version": '"1.0.0"', "family": '"other"', "description": '"A probe head."',
    "authors": '["Probe Tester"]', "license": '"MIT"', "entry_point": '"head.py:Head"',
}
HEAD = "class Head:\n    def fit(self, train, *, seed):\n        pass\n\n    def score(self, batch):\n        pass\n"


def make_folder(tmp_path: Path, tables: str = "", head: str = HEAD, **fields: str | None) -> Path:
    """``tmp_path/probe`` with a valid ``submission.toml`` (fields are raw TOML values; None drops one)."""
    folder = tmp_path / "probe"
    folder.mkdir()
    lines = [f"{key} = {value}" for key, value in {**BASE, **fields}.items() if value is not None]
    (folder / METADATA).write_text("\n".join(lines) + "\n" + tables, encoding="utf-8")
    (folder / "head.py").write_text(head, encoding="utf-8")
    return folder


def refusal(folder: Path) -> str:
    """The error line ``load_submission`` raises, with the metadata file's path replaced by ``TOML``."""
    with pytest.raises(SubmissionError) as err:
        load_submission(folder)
    message = str(err.value)
    assert "\n" not in message
    return message.replace(str(folder / METADATA), "TOML")


def failures(folder: Path) -> dict[str, str]:
    """``{check name: message}`` of every failing static check."""
    _, results = run_static_checks(folder)
    return {r.name: r.message for r in results if not r.passed}


def test_the_base_folder_is_valid(tmp_path):
    sub = load_submission(make_folder(tmp_path, seeds="[0, 2147483647]", version='"1.0.0-beta.2"'))
    assert sub.seeds == (0, 2147483647) and sub.version == "1.0.0-beta.2"
    assert failures(sub.path) == {}


# -- [params] ------------------------------------------------------------------------------------
PARAMS_REFUSED = {
    "huge int": ("n_params = 1" + "0" * 400,
                 "TOML: 'params.n_params' = 1" + "0" * 20 + "... is out of range (|x| <= 2**53)"),
    "int just past 2**53": (f"n = {2**53 + 1}", "TOML: 'params.n' = 9007199254740993 is out of range (|x| <= 2**53)"),
    "datetime": ("when = 1979-05-27T07:32:00Z", "TOML: 'params.when' is a TOML date/time; params may be strings, "
                                                 "booleans, finite numbers and lists/tables of those"),
    "local date": ("day = 1979-05-27", "TOML: 'params.day' is a TOML date/time"),
    "local time in a list": ("at = [07:32:00]", "TOML: 'params.at[0]' is a TOML date/time"),
    "inf": ("lr = inf", "TOML: 'params.lr' = inf is not finite (inf and nan are not allowed)"),
    "-inf in a table": ("opt = { lr = -inf }", "TOML: 'params.opt.lr' = -inf is not finite"),
    "nan": ("lr = nan", "TOML: 'params.lr' = nan is not finite"),
    "long string": (f's = "{"x" * 1001}"', "TOML: 'params.s' is 1001 characters long, limit 1000"),
    "long list": (f"xs = {list(range(257))}", "TOML: 'params.xs' has 257 items, limit 256"),
    "too many keys": ("\n".join(f"k{i} = {i}" for i in range(65)), "TOML: 'params' has 65 keys, limit 64"),
    "nesting depth 4": ("deep = [[[[1]]]]", "TOML: 'params.deep[0][0][0]' nests lists/tables deeper than 3 levels"),
    "key not an identifier": ('"bad-key" = 1', "TOML: key 'bad-key' in 'params' must be an identifier"),
    "nested key not an identifier": ('opt = { "x y" = 1 }', "TOML: key 'x y' in 'params.opt' must be an identifier"),
    "bidi override in a string": (r's = "a\u202eb"', "TOML: 'params.s' contains the control character U+202E at "
                                  "position 1 (control, DEL, C1 and bidi characters are not allowed)"),
}


@pytest.mark.parametrize("line, expected", PARAMS_REFUSED.values(), ids=PARAMS_REFUSED)
def test_params_are_plain_bounded_data(tmp_path, line, expected):
    assert refusal(make_folder(tmp_path, tables=f"[params]\n{line}\n")).startswith(expected)


def test_params_at_the_limits_are_accepted(tmp_path):
    tables = (f"[params]\nbig = {2**53}\nneg = {-(2**53)}\nnested = [[[1.5]]]\nflag = true\n"
              f"xs = {list(range(256))}\ns = \"{'x' * 1000}\"\nopt = {{ lr = 1e-3, name = \"adam\" }}\n")
    sub = load_submission(make_folder(tmp_path, tables=tables))
    assert sub.params["big"] == 2**53 and sub.params["nested"] == [[[1.5]]] and sub.params["opt"]["lr"] == 1e-3


# -- variants and read-out params -------------------------------------------------------------
VARIANTS_REFUSED = {
    "variant name with upper case": ({}, "[params]\nk = 1\n[variants.Big]\nk = 2\n",
                                     "TOML: variant name 'Big' must match ^[a-z0-9][a-z0-9_\\-]{0,31}$"),
    "variant name with @": ({}, '[variants."a@b"]\nk = 2\n', "TOML: variant name 'a@b' must match"),
    "variant not a table": ({}, "[variants]\nmean = 1\n", "TOML: 'variants.mean' must be a table of params, got int"),
    "variant value inf": ({}, "[variants.a]\nlr = inf\n", "TOML: 'variants.a.lr' = inf is not finite"),
    "variant key not an identifier": ({}, '[variants.a]\n"x y" = 1\n',
                                      "TOML: key 'x y' in 'variants.a' must be an identifier"),
    "17 variants": ({}, "".join(f"[variants.v{i}]\n" for i in range(17)),
                    "TOML: '[variants]' has 17 entries, limit 16"),
    "readout not a list": ({"readout": '"k"'}, "[params]\nk = 1\n[variants.a]\n",
                           "TOML: 'readout' must be a list, got str"),
    "readout of a missing param": ({"readout": '["k", "z"]'}, "[params]\nk = 1\n[variants.a]\n",
                                   "TOML: 'readout' names 'z', which is not in [params]"),
    "readout repeated": ({"readout": '["k", "k"]'}, "[params]\nk = 1\n[variants.a]\n",
                         "TOML: 'readout' repeats a param name"),
    "readout of a number": ({"readout": "[1]"}, "[params]\nk = 1\n[variants.a]\n",
                            "TOML: 'readout' must be a list of at most 64 param names"),
    "readout without variants": ({"readout": '["k"]'}, "[params]\nk = 1\n",
                                 "TOML: 'readout' is only meaningful with [variants.NAME] tables"),
}


@pytest.mark.parametrize("fields, tables, expected", VARIANTS_REFUSED.values(), ids=VARIANTS_REFUSED)
def test_variants_and_readout_are_strict(tmp_path, fields, tables, expected):
    assert refusal(make_folder(tmp_path, tables=tables, **fields)).startswith(expected)


def test_declared_variants_are_named_rows_of_one_folder(tmp_path):
    tables = '[params]\nk = 1\nr = "x"\n[variants.a]\nr = "y"\n[variants.b-2]\nk = 2\n'
    sub = load_submission(make_folder(tmp_path, tables=tables, readout='["r"]'))
    a, b = sub.expand()
    assert (a.name, a.params, a.fit_params, a.readout_params) == ("probe@a", {"k": 1, "r": "y"}, {"k": 1}, {"r": "y"})
    assert (b.name, b.params, b.fit_params) == ("probe@b-2", {"k": 2, "r": "x"}, {"k": 2})
    assert a.record()["variant"] == "a" and a.record()["variant_of"] == "probe" and "overrides" not in a.record()
    assert a.variant({"k": 5}).name == "probe@a,k=5" and a.variant({"k": 5}).record()["overrides"] == {"k": 5}
    (tmp_path / "x").mkdir()
    assert a.expand() == [a] and load_submission(make_folder(tmp_path / "x")).expand()[0].name == "probe"


# -- seeds, version, strings, links --------------------------------------------------------------
CONTROL = "TOML: 'description' contains the control character"
SEEDS_RULE = "'seeds' must be a non-empty list of at most 10 distinct integers in [0, 2**31)"
FIELDS_REFUSED = {
    "5000 seeds": ({"seeds": str(list(range(5000)))}, f"TOML: {SEEDS_RULE} (got 5000)"),
    "no seeds": ({"seeds": "[]"}, f"TOML: {SEEDS_RULE} (got 0)"),
    "repeated seed": ({"seeds": "[1, 1]"}, f"TOML: 'seeds' repeats a seed; {SEEDS_RULE}"),
    "negative seed": ({"seeds": "[0, -1]"}, f"TOML: 'seeds[1]' = -1: {SEEDS_RULE}"),
    "seed 2**31": ({"seeds": "[2147483648]"}, f"TOML: 'seeds[0]' = 2147483648: {SEEDS_RULE}"),
    "boolean seed": ({"seeds": "[true]"}, f"TOML: 'seeds[0]' = True: {SEEDS_RULE}"),
    "float seed": ({"seeds": "[0.5]"}, f"TOML: 'seeds[0]' = 0.5: {SEEDS_RULE}"),
    "version with a shell command": ({"version": '"1.0; rm -rf ~"'},
                                     "TOML: version '1.0; rm -rf ~' is not a version string like '1.0.0'"),
    "version with a leading v": ({"version": '"v1.0"'}, "TOML: version 'v1.0' is not a version string"),
    "version of 33 characters": ({"version": f'"1.{"0" * 31}"'}, "TOML: 'version' is 33 characters long, limit 32"),
    "version with a newline": ({"version": r'"1.0\n"'}, "TOML: 'version' contains the control character U+000A"),
    "description of 1001 characters": ({"description": f'"{"d" * 1001}"'},
                                       "TOML: 'description' is 1001 characters long, limit 1000"),
    "description with a newline": ({"description": r'"line\nline"'},
                                   "TOML: 'description' contains the control character U+000A at position 4"),
    "description with NUL": ({"description": r'"a\u0000"'}, f"{CONTROL} U+0000"),
    "description with DEL": ({"description": r'"a\u007f"'}, f"{CONTROL} U+007F"),
    "description with a C1 character": ({"description": r'"a\u0085"'},
                                        "TOML: 'description' contains the control character U+0085"),
    "description with an isolate": ({"description": r'"a\u2066"'},
                                    "TOML: 'description' contains the control character U+2066"),
    "empty description": ({"description": '"  "'}, "TOML: 'description' must not be empty"),
    "author of 101 characters": ({"authors": f'["{"a" * 101}"]'},
                                 "TOML: 'authors[0]' is 101 characters long, limit 100"),
    "21 authors": ({"authors": str([f"a{i}" for i in range(21)]).replace("'", '"')},
                   "TOML: 'authors' must be a non-empty list of at most 20 strings"),
    "author with a bidi override": ({"authors": r'["ok", "ev\u202eil"]'},
                                    "TOML: 'authors[1]' contains the control character U+202E"),
    "license of 65 characters": ({"license": f'"{"L" * 65}"'}, "TOML: 'license' is 65 characters long, limit 64"),
    "license with a tab": ({"license": r'"MIT\t"'}, "TOML: 'license' contains the control character U+0009"),
    "family with a control character": ({"family": r'"other\u202e"'},
                                        "TOML: family 'other\\u202e' is not one of bradley-terry"),
    "name with a control character": ({"name": r'"probe\u0007"'}, "TOML: name 'probe\\x07' must match"),
}


@pytest.mark.parametrize("fields, expected", FIELDS_REFUSED.values(), ids=FIELDS_REFUSED)
def test_fields_are_bounded_and_free_of_control_characters(tmp_path, fields, expected):
    message = refusal(make_folder(tmp_path, **fields))
    assert message.startswith(expected), message
    assert not any(ch in message for ch in "\x00\x07\x7f\x85\u202e\u2066")  # echoed values are escaped


LINKS_REFUSED = {
    "javascript URL": ('x = "javascript:alert(1)"', "TOML: 'links.x' = 'javascript:alert(1)' must be an http(s) URL"),
    "file URL": ('x = "file:///etc/passwd"', "TOML: 'links.x' = 'file:///etc/passwd' must be an http(s) URL"),
    "ftp URL": ('x = "ftp://a.org/x"', "TOML: 'links.x' = 'ftp://a.org/x' must be an http(s) URL"),
    "URL without a host": ('x = "https://"', "TOML: 'links.x' = 'https://' must be an http(s) URL"),
    "URL with a space": ('x = "https://a.org/x y"', "TOML: 'links.x' = 'https://a.org/x y' must be an http(s) URL"),
    "not a string": ("x = 3", "TOML: 'links.x' must be a str, got int"),
    "key not an identifier": ('"my paper" = "https://a.org"', "TOML: key 'my paper' in 'links' must be an identifier"),
    "11 links": ("\n".join(f'l{i} = "https://a.org/{i}"' for i in range(11)),
                 "TOML: '[links]' has 11 entries, limit 10"),
    "URL of 501 characters": (f'x = "https://a.org/{"p" * 487}"', "TOML: 'links.x' is 501 characters long, limit 500"),
}


@pytest.mark.parametrize("line, expected", LINKS_REFUSED.values(), ids=LINKS_REFUSED)
def test_links_are_a_few_http_urls(tmp_path, line, expected):
    assert refusal(make_folder(tmp_path, tables=f"[links]\n{line}\n")).startswith(expected)


def test_unknown_fields_name_the_nearest_known_one(tmp_path):
    message = refusal(make_folder(tmp_path, entry_point=None, entrypoint='"head.py:Head"', colour="1"))
    assert message == ("TOML: unknown field(s) 'colour', 'entrypoint' (did you mean 'entry_point'?) (allowed: name, "
                       "version, family, description, authors, license, entry_point, seeds, params, links, readout, "
                       "variants, tuning)")


def test_unreadable_toml_is_one_line(tmp_path):
    assert refusal(make_folder(tmp_path, seeds="[1" + "0" * 5000 + "]")).startswith("TOML: invalid TOML (Exceeds")
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / METADATA).write_text("x = " + "[" * 20000 + "]" * 20000)
    assert refusal(folder) == f"{folder / METADATA}: invalid TOML (maximum recursion depth exceeded)".replace(
        str(folder / METADATA), "TOML")


def test_metadata_is_small_and_not_a_link(tmp_path):
    folder = make_folder(tmp_path, tables=f"# {'x' * 65536}\n")
    assert refusal(folder).startswith("TOML: 65") and refusal(folder).endswith(" bytes, limit 65536")
    (folder / METADATA).unlink()
    (folder / METADATA).symlink_to("/etc/hostname")
    assert refusal(folder) == "TOML: is a symlink; it must be a regular file"


# -- entry point ---------------------------------------------------------------------------------
ENTRY_REFUSED = {
    "cache folder": ("__pycache__/x.py:Head", "points into the cache folder __pycache__"),
    "absolute path": ("/abs/head.py:Head", "must be a relative path inside the folder"),
    "parent folder": ("../x.py:Head", "must not contain '..', '.' or '//'"),
    "parent folder deeper": ("pkg/../../x.py:Head", "must not contain '..', '.' or '//'"),
    "double slash": ("pkg//head.py:Head", "must not contain '..', '.' or '//'"),
    "hidden folder": (".hidden/head.py:Head", "has the hidden component '.hidden'"),
    "backslash": ("pkg\\\\head.py:Head", "must be a relative path inside the folder"),
    "not a .py file": ("head.txt:Head", "must look like 'head.py:Head' (relative/path.py:ClassName)"),
    "no class": ("head.py", "must look like 'head.py:Head'"),
    "odd file name": ("he ad.py:Head", "has the component 'he ad.py', not a plain file name"),
}


@pytest.mark.parametrize("entry, expected", ENTRY_REFUSED.values(), ids=ENTRY_REFUSED)
def test_entry_point_is_a_relative_py_file_inside_the_folder(tmp_path, entry, expected):
    folder = make_folder(tmp_path, entry_point=f'"{entry}"')
    for target in (folder / "__pycache__" / "x.py", tmp_path / "x.py", folder / ".hidden" / "head.py"):
        target.parent.mkdir(exist_ok=True)
        target.write_text(HEAD)  # the file exists: the path rule alone refuses it
    message = refusal(folder)
    assert message.startswith(f"TOML: entry_point '{entry}' ") and expected in message, message


def test_entry_point_reached_through_a_symlink_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "head.py").write_text(HEAD)
    folder = make_folder(tmp_path, entry_point='"pkg/head.py:Head"')
    (folder / "pkg").symlink_to(outside)
    assert refusal(folder) == "TOML: entry point pkg/head.py: pkg is a symlink"
    (folder / "link.py").symlink_to(outside / "head.py")
    (folder / METADATA).write_text((folder / METADATA).read_text().replace("pkg/head.py", "link.py"))
    assert refusal(folder) == "TOML: entry point link.py: link.py is a symlink"


def test_entry_point_must_be_a_regular_file(tmp_path):
    folder = make_folder(tmp_path, entry_point='"dir.py:Head"')
    (folder / "dir.py").mkdir()
    assert refusal(folder) == "TOML: entry point file dir.py not found (or not a regular file)"
    (folder / "pkg").mkdir()
    (folder / "pkg" / "head.py").write_text(HEAD)
    (folder / METADATA).write_text((folder / METADATA).read_text().replace("dir.py", "pkg/head.py"))
    assert load_submission(folder).module_file == folder.resolve() / "pkg" / "head.py"


# -- every file counts ---------------------------------------------------------------------------
def test_a_bytecode_cache_changes_the_hash_and_fails_the_data_file_check(tmp_path):
    folder = make_folder(tmp_path)
    before = load_submission(folder).sha256
    cache = folder / "__pycache__"
    cache.mkdir()
    (cache / "evil.cpython-311.pyc").write_bytes(b"\x00" * 64)
    sub = load_submission(folder)
    assert sub.sha256 != before and cache / "evil.cpython-311.pyc" in sub.files()
    assert failures(folder) == {"check_no_data_files": "__pycache__/evil.cpython-311.pyc is a Python bytecode "
                                "cache; delete it (the sandbox runs python -B, so no cache is needed)"}


def test_a_stray_pyc_file_fails_the_data_file_check(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "head.cpython-311.pyc").write_bytes(b"abc")
    assert failures(folder)["check_no_data_files"].startswith("head.cpython-311.pyc is a Python bytecode cache")


def test_a_cache_counts_for_the_size_limit(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "big.pyc").write_bytes(b"x" * 300 * 1024)
    assert failures(folder)["check_folder_size"] == "folder is 300 KiB, limit 256 KiB"


def test_symlinks_are_refused_and_never_followed(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "notes.md").symlink_to(tmp_path / "does-not-exist")  # hashing it must not read the target
    sub = load_submission(folder)
    first = sub.sha256
    (folder / "notes.md").unlink()
    (folder / "notes.md").symlink_to("/etc/hostname")
    assert sub.sha256 != first
    assert failures(folder) == {"check_no_data_files": "notes.md is a symlink; submissions hold regular files only"}
    (folder / "notes.md").unlink()
    (folder / "lib").symlink_to(tmp_path, target_is_directory=True)  # a linked folder: listed, not walked
    assert sub.files() == [folder.resolve() / "head.py", folder.resolve() / "lib", folder.resolve() / METADATA]
    assert failures(folder) == {"check_no_data_files": "lib is a symlink; submissions hold regular files only"}


def test_a_fifo_is_refused_without_blocking(tmp_path):
    folder = make_folder(tmp_path)
    os.mkfifo(folder / "pipe.txt")
    assert len(load_submission(folder).sha256) == 64
    assert failures(folder) == {"check_no_data_files": "pipe.txt is not a regular file"}


def test_importing_a_head_in_process_writes_no_bytecode(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    sub = load_submission(make_folder(tmp_path))
    assert import_head_class(sub).__name__ == "Head"
    assert not (sub.path / "__pycache__").exists() and sys.dont_write_bytecode is False


# -- the import check ----------------------------------------------------------------------------
MODULE = "network, process, pickle, native-code, import-machinery or introspection module"
INTERNALS = "interpreter internals: frames, code objects, builtins"
IMPORTS_REFUSED = {
    "import builtins": ("import builtins", 1, f"import of builtins ({MODULE})"),
    "from builtins import": ("from builtins import __import__", 1, f"import of builtins ({MODULE})"),
    "imported dunder": ("from math import __loader__", 1, f"access to __loader__ ({INTERNALS})"),
    "attribute __import__": ("def f(b):\n    return b.__import__('os')", 2, f"access to __import__ ({INTERNALS})"),
    "__builtins__": ("x = __builtins__['open']", 1, "__builtins__ (dynamic code or imports)"),
    "__import__ call": ("m = __import__('os')", 1, "__import__ (dynamic code or imports)"),
    "import importlib": ("import importlib", 1, f"import of importlib ({MODULE})"),
    "import importlib.util": ("import importlib.util", 1, f"import of importlib.util ({MODULE})"),
    "from importlib import": ("from importlib import import_module", 1, f"import of importlib ({MODULE})"),
    "from importlib.machinery": ("from importlib.machinery import SourceFileLoader", 1,
                                 f"import of importlib.machinery ({MODULE})"),
    "sys.modules": ("import sys\nsys.modules['os']", 2, "sys.modules (the import system or frames)"),
    "from sys import modules": ("from sys import modules", 1, "import of sys.modules (the import system or frames)"),
    "sys._getframe": ("import sys\nf = sys._getframe(1)", 2, "sys._getframe (the import system or frames)"),
    "numpy.ctypeslib": ("import numpy as np\nlib = np.ctypeslib.load_library('x', '.')", 2,
                        f"numpy.ctypeslib.load_library ({MODULE})"),
    "from numpy import ctypeslib": ("from numpy import ctypeslib", 1, f"import of numpy.ctypeslib ({MODULE})"),
    "import ctypes": ("import ctypes", 1, f"import of ctypes ({MODULE})"),
    "from ctypes import": ("from ctypes import CDLL", 1, f"import of ctypes ({MODULE})"),
    "import cffi": ("import cffi", 1, "import of cffi (allowed: the standard library"),
    "import torch.utils.cpp_extension": ("import torch.utils.cpp_extension", 1,
                                         f"import of torch.utils.cpp_extension ({MODULE})"),
    "from torch.utils import cpp_extension": ("from torch.utils import cpp_extension", 1,
                                              f"import of torch.utils.cpp_extension ({MODULE})"),
    "torch.utils.cpp_extension attribute": ("import torch\n\nm = torch.utils.cpp_extension.load_inline('m', '')", 3,
                                            f"torch.utils.cpp_extension.load_inline ({MODULE})"),
    "torch.ops.load_library": ("import torch\ntorch.ops.load_library('evil.so')", 2,
                               f"torch.ops.load_library ({MODULE})"),
    "os.system": ("import os\nos.system('id')", 2, "os.system (process creation)"),
    "os.popen": ("import os\nos.popen('id')", 2, "os.popen (process creation)"),
    "os.fork": ("import os\nos.fork()", 2, "os.fork (process creation)"),
    "os.forkpty": ("import os\nos.forkpty()", 2, "os.forkpty (process creation)"),
    "os.execv": ("import os\nos.execv('/bin/sh', [])", 2, "os.execv (process creation)"),
    "os.spawnlp": ("import os\nos.spawnlp(0, 'sh', 'sh')", 2, "os.spawnlp (process creation)"),
    "os.posix_spawn": ("import os\nos.posix_spawn('/bin/sh', [], {})", 2, "os.posix_spawn (process creation)"),
    "os under another name": ("import os as o\no.execvp('sh', [])", 2, "os.execvp (process creation)"),
    "from os import system": ("from os import system as run", 1, "import of os.system (process creation)"),
    "getattr with a literal": ("import os\ngetattr(os, 'system')('id')", 2, "os.system (process creation)"),
    "from os import *": ("from os import *", 1, "from os import * (name what you import)"),
    "eval": ("x = eval('1 + 1')", 1, "eval (dynamic code or imports)"),
    "exec": ("exec('x = 1')", 1, "exec (dynamic code or imports)"),
    "compile": ("c = compile('1', 'f', 'eval')", 1, "compile (dynamic code or imports)"),
    "eval by another name": ("run = eval", 1, "eval (dynamic code or imports)"),
    "__subclasses__": ("s = ().__class__.__base__.__subclasses__()", 1, f"access to __subclasses__ ({INTERNALS})"),
    "__globals__": ("def f():\n    pass\n\n\ng = f.__globals__", 5, f"access to __globals__ ({INTERNALS})"),
    "__code__": ("def f():\n    pass\n\n\nc = f.__code__", 5, f"access to __code__ ({INTERNALS})"),
    "__closure__": ("def f():\n    pass\n\n\nc = f.__closure__", 5, f"access to __closure__ ({INTERNALS})"),
    "attribute __builtins__": ("import math\nb = math.__builtins__", 2, f"access to __builtins__ ({INTERNALS})"),
    "f_back": ("def f(frame):\n    return frame.f_back", 2, f"access to f_back ({INTERNALS})"),
    "f_globals": ("def f(frame):\n    return frame.f_globals", 2, f"access to f_globals ({INTERNALS})"),
    "gi_frame": ("def f(gen):\n    return gen.gi_frame", 2, f"access to gi_frame ({INTERNALS})"),
    "tb_frame": ("def f(err):\n    return err.__traceback__.tb_frame", 2, f"access to tb_frame ({INTERNALS})"),
    "getattr of a dunder": ("def f(g):\n    return getattr(g, '__globals__')", 2,
                            "the string '__globals__' (a name of interpreter internals)"),
    "globals() subscript": ("b = globals()['__builtins__']", 1,
                            "the string '__builtins__' (a name of interpreter internals)"),
    "import gc": ("import gc", 1, f"import of gc ({MODULE})"),
    "import inspect": ("import inspect", 1, f"import of inspect ({MODULE})"),
    "from inspect import": ("from inspect import currentframe", 1, f"import of inspect ({MODULE})"),
    "private stdlib module": ("import _thread", 1, "import of _thread (allowed: the standard library"),
    "socket": ("import socket", 1, f"import of socket ({MODULE})"),
    "third-party package": ("import requests", 1, "import of requests (allowed: the standard library without "
                                                  "network/process modules, and numpy, pandas, scipy, sklearn, torch)"),
    "utf-7 source": ("# -*- coding: utf-7 -*-\nx = 1", 1, "syntax error (source encoding utf-7 is not allowed"),
    "syntax error": ("def f(:\n    pass", 1, "syntax error ("),
}


@pytest.mark.parametrize("source, line, construct", IMPORTS_REFUSED.values(), ids=IMPORTS_REFUSED)
def test_the_import_check_refuses_escape_hatches(tmp_path, source, line, construct):
    message = failures(make_folder(tmp_path, head=f"{source}\n\n\n{HEAD}"))["check_imports"]
    assert message.startswith(f"head.py:{line}: {construct}"), message


IMPORTS_ACCEPTED = {
    "model.eval()": "def f(model):\n    model.eval()",
    "re.compile": "import re\n\nPATTERN = re.compile('x')",
    "os.path": "import os\n\nHERE = os.path.join('a', 'b')",
    "sys.float_info": "import sys\n\nEPS = sys.float_info.epsilon",
    "__class__.__name__": "def f(x):\n    return x.__class__.__name__",
    "getattr of own state": "def f(head):\n    return getattr(head, 'w_', None)",
    "numpy and torch": "import numpy as np\nimport torch\nfrom torch import nn\n\nX = np.linalg.norm(torch.ones(2))",
    "torch.utils.data": "import torch.utils.data\n\nLOADER = torch.utils.data.DataLoader",
    "future and harness": "from __future__ import annotations\n\nfrom harness.heads import BaseHead",
}


@pytest.mark.parametrize("source", IMPORTS_ACCEPTED.values(), ids=IMPORTS_ACCEPTED)
def test_the_import_check_accepts_ordinary_code(tmp_path, source):
    assert failures(make_folder(tmp_path, head=f"{source}\n\n\n{HEAD}")) == {}


def test_every_python_file_is_checked_and_named_by_its_path(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "helpers").mkdir()
    (folder / "helpers" / "util.py").write_text("x = 1\nimport ctypes\nimport os\nos.system('id')\n")
    assert failures(folder) == {"check_imports": f"helpers/util.py:2: import of ctypes ({MODULE}) is not allowed "
                                                 f"(and 1 more line(s))"}


def test_imported_modules_and_dependencies_are_top_level_names(tmp_path):
    source = ("import numpy as np\nimport torch.nn\nfrom sklearn.linear_model import Ridge\nimport math\n"
              "from . import x\n")
    assert imported_modules(source) == {"numpy", "torch", "sklearn", "math"}
    sub = load_submission(make_folder(tmp_path, head=source + HEAD))
    assert head_dependencies(sub) == ["numpy", "sklearn", "torch"]


def test_a_head_may_use_the_head_api_of_the_harness_only(tmp_path):
    from harness.checks import run_static_checks

    def refusal_of(source: str) -> str:
        folder = tmp_path / f"h{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        (folder / "submission.toml").write_text(
            f'name = "{folder.name}"\nversion = "1.0.0"\nfamily = "other"\ndescription = "d"\nauthors = ["a"]\n'
            'license = "MIT"\nentry_point = "head.py:Head"\n')
        (folder / "head.py").write_text(source + "\n\nclass Head:\n    def fit(self, train, *, seed):\n        pass\n\n"
                                        "    def score(self, batch):\n        return batch.response[:, 0]\n")
        _, checks = run_static_checks(folder)
        return " ".join(c.message for c in checks if not c.passed)

    assert refusal_of("from harness.heads import BaseHead\nfrom harness.training import seeded") == ""
    assert "harness.heads and harness.training only" in refusal_of("from harness import worker")
    assert "harness.heads and harness.training only" in refusal_of("import harness.protocol")
    assert "harness.heads and harness.training only" in refusal_of("import harness\nX = harness.sandbox.Sandbox")
    assert refusal_of("import harness\nX = harness.__file__") == ""  # a path, not an API
