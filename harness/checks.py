"""The public conformance suite for reward heads (like scikit-learn's ``check_estimator``).

``rewardheads validate`` and the test suite run the same named checks. Static checks read
the submission folder; dynamic checks fit and score the head on a tiny synthetic set inside
the sandbox. Each failure is one line naming the check.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import threading
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.heads import HeadSkipped, PreferenceData, ScoreBatch, check_scores
from harness.probe import repeat_mismatch
from harness.submissions import Submission, SubmissionError, load_submission, make_head

ALLOWED_PACKAGES = frozenset({"numpy", "scipy", "sklearn", "torch", "pandas", "harness"})
#: The harness modules a head may use: the interface and the shared trainer (not the worker, the
#: protocol or the runner, whose internals a head has no business touching).
HEAD_API = frozenset({"heads", "training"})
# modules (and everything under them) a head may not import or reach as an attribute
FORBIDDEN_MODULES = frozenset({
    "socket", "ssl", "subprocess", "multiprocessing", "urllib", "http", "ftplib", "smtplib", "telnetlib",
    "ctypes", "cffi", "requests", "asyncio", "shutil", "webbrowser", "xmlrpc", "pickle", "marshal", "shelve",
    "importlib", "concurrent", "pty", "signal", "resource", "gc", "inspect", "builtins", "posix", "nt",
    "numpy.ctypeslib", "torch.utils.cpp_extension", "torch.ops.load_library", "torch.classes.load_library",
})
# module -> attributes of it a head may not touch (process creation, the import system, frames)
FORBIDDEN_MEMBERS = {
    "os": (re.compile(r"system|popen|fork|forkpty|exec\w*|spawn\w*|posix_spawn\w*"), "process creation"),
    "sys": (re.compile(r"modules|meta_path|path_hooks|path_importer_cache|_getframe|_current_frames|settrace|"
                       r"setprofile"), "the import system or frames"),
}
# names and attributes that open the interpreter's internals (builtins, code objects, frames)
FORBIDDEN_NAMES = frozenset({"eval", "exec", "compile", "__import__", "__builtins__"})
FORBIDDEN_ATTRIBUTES = frozenset({
    "__subclasses__", "__globals__", "__builtins__", "__code__", "__closure__", "__import__", "__loader__",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "gi_frame", "gi_code", "cr_frame", "cr_code",
    "ag_frame", "ag_code", "tb_frame", "tb_next",
})
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
DATA_SUFFIXES = frozenset({
    ".npy", ".npz", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".parquet", ".safetensors", ".bin",
    ".h5", ".hdf5", ".gguf", ".onnx", ".csv", ".tsv", ".jsonl", ".arrow", ".zip", ".gz", ".tar", ".xz",
    ".feather", ".ckpt",
})
TEXT_SUFFIXES = frozenset({".py", ".toml", ".md", ".txt", ".cfg", ".rst"})
MAX_FOLDER_BYTES = 256 * 1024
_PARSE_LOCK = threading.Lock()  # the runner reads heads' imports from its worker threads


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one named check."""

    name: str
    passed: bool
    message: str = ""

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}" + (f": {self.message}" if self.message else "")


class CheckFailed(HarnessError):
    """Raised by a check function; the message says what is wrong."""


# -- static checks (read the folder, run nothing) ----------------------------------------------
class _ImportPolicy(ast.NodeVisitor):
    """Collects ``(line, construct)`` for every refused import, name and attribute of one file.

    A seat belt, not a wall: it catches the obvious ways out (process creation, ctypes, the
    import machinery, frame and code-object introspection) with a readable message, but Python
    is too dynamic for an AST check to be complete (``getattr(os, "sys" + "tem")`` passes). The
    boundary is the OS sandbox (``harness/sandbox.py``), which holds whatever this misses.
    """

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> the dotted module/attribute it is bound to
        self.modules: set[str] = set()
        self.refused: list[tuple[int, str]] = []

    def refuse(self, node: ast.AST, what: str) -> None:
        self.refused.append((getattr(node, "lineno", 0), what))

    def check_dotted(self, node: ast.AST, dotted: str, verb: str = "") -> None:
        """Refuse a forbidden module (or anything under it) or a forbidden member of os/sys."""
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):
            if ".".join(parts[:i]) in FORBIDDEN_MODULES:
                reason = "network, process, pickle, native-code, import-machinery or introspection module"
                return self.refuse(node, f"{verb}{dotted} ({reason})")
        if parts[0] == "harness" and len(parts) > 1 and parts[1] not in HEAD_API and not parts[1].startswith("__"):
            return self.refuse(node, f"{verb}{dotted} (a head may use harness.heads and harness.training only)")
        if len(parts) > 1 and parts[0] in FORBIDDEN_MEMBERS:
            pattern, reason = FORBIDDEN_MEMBERS[parts[0]]
            if pattern.fullmatch(parts[1]):
                return self.refuse(node, f"{verb}{parts[0]}.{parts[1]} ({reason})")
        return None

    def check_top_level(self, node: ast.AST, name: str) -> None:
        top = name.split(".")[0]
        self.modules.add(top)
        if top == "__future__":
            return
        if top.startswith("_") or (top not in sys.stdlib_module_names and top not in ALLOWED_PACKAGES):
            allowed = ", ".join(sorted(ALLOWED_PACKAGES - {"harness"}))
            self.refuse(node, f"import of {name} (allowed: the standard library without network/process modules, "
                              f"and {allowed})")

    def dotted(self, node: ast.AST) -> str | None:
        """``np.ctypeslib.x`` -> ``numpy.ctypeslib.x`` when the chain starts at an imported name."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.check_top_level(node, alias.name)
            self.check_dotted(node, alias.name, "import of ")
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return  # relative imports are the submission's own files
        self.check_top_level(node, node.module)
        self.check_dotted(node, node.module, "import of ")
        for alias in node.names:
            if alias.name == "*":
                self.refuse(node, f"from {node.module} import * (name what you import)")
                continue
            self.check_dotted(node, f"{node.module}.{alias.name}", "import of ")
            self.attribute(node, alias.name)
            self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def attribute(self, node: ast.AST, name: str) -> None:
        if name in FORBIDDEN_ATTRIBUTES:
            self.refuse(node, f"access to {name} (interpreter internals: frames, code objects, builtins)")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.attribute(node, node.attr)
        dotted = self.dotted(node)
        before = len(self.refused)
        if dotted:
            self.check_dotted(node, dotted)
        if len(self.refused) == before:  # report ``a.b.c`` once, not again as ``a.b``
            self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.refuse(node, f"{node.id} (dynamic code or imports)")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value in FORBIDDEN_ATTRIBUTES | FORBIDDEN_NAMES:
            self.refuse(node, f"the string {node.value!r} (a name of interpreter internals)")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (isinstance(func, ast.Name) and func.id in ATTRIBUTE_FUNCTIONS and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            base = self.dotted(node.args[0])
            if base:
                self.check_dotted(node, f"{base}.{node.args[1].value}")
        self.generic_visit(node)


def _parse(source: bytes | str, filename: str) -> ast.Module:
    """Parse as the interpreter would import it; refuse source encodings other than UTF-8."""
    if isinstance(source, bytes):
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        if encoding not in ("utf-8", "utf-8-sig"):
            raise SyntaxError(f"source encoding {encoding} is not allowed (use UTF-8)", (filename, 1, 0, ""))
    with _PARSE_LOCK:  # CPython 3.11's parser is not thread-safe ("AST constructor recursion depth mismatch")
        return ast.parse(source, filename=filename)


def _policy(source: bytes | str, filename: str) -> _ImportPolicy:
    policy = _ImportPolicy()
    tree = _parse(source, filename)
    for node in ast.walk(tree):  # bind every import first, so later uses resolve whatever the order
        if isinstance(node, ast.Import | ast.ImportFrom):
            policy.visit(node)
    policy.refused.clear()
    policy.visit(tree)
    return policy


def imported_modules(source: bytes | str, filename: str = "<head>") -> set[str]:
    """Top-level names of every module a source file imports (relative imports excluded)."""
    return _policy(source, filename).modules


def refused_constructs(source: bytes | str, filename: str = "<head>") -> list[tuple[int, str]]:
    """``(line, construct)`` for every import, name or attribute ``check_imports`` refuses, by line."""
    return sorted(dict.fromkeys(_policy(source, filename).refused), key=lambda item: item[0])


def check_metadata(path: Path) -> Submission:
    """``submission.toml`` follows the schema and the entry point exists."""
    return load_submission(path)


def check_folder_size(sub: Submission) -> None:
    """The folder holds at most 256 KiB (every file counts, links by their own size)."""
    size = sum(f.lstat().st_size for f in sub.files())
    if size > MAX_FOLDER_BYTES:
        raise CheckFailed(f"folder is {size / 1024:.0f} KiB, limit {MAX_FOLDER_BYTES // 1024} KiB")


def check_no_data_files(sub: Submission) -> None:
    """Only text files of code and metadata: no weights, arrays, datasets, caches or links."""
    for file in sub.files():
        rel = file.relative_to(sub.path)
        if file.is_symlink():
            raise CheckFailed(f"{rel} is a symlink; submissions hold regular files only")
        if not file.is_file():
            raise CheckFailed(f"{rel} is not a regular file")
        if any(part == "__pycache__" for part in rel.parts) or file.suffix.lower() in (".pyc", ".pyo"):
            raise CheckFailed(f"{rel} is a Python bytecode cache; delete it (the sandbox runs python -B, "
                              f"so no cache is needed)")
        if file.suffix.lower() in DATA_SUFFIXES:
            raise CheckFailed(f"{rel} is a data file ({file.suffix}); submissions hold code and metadata only")
        if file.suffix.lower() not in TEXT_SUFFIXES:
            raise CheckFailed(f"{rel}: unexpected file type (allowed: {', '.join(sorted(TEXT_SUFFIXES))})")
        with open(file, "rb") as handle:
            if b"\0" in handle.read(8192):
                raise CheckFailed(f"{rel} is binary")


def _python_files(sub: Submission) -> list[Path]:
    return [f for f in sub.files() if f.suffix == ".py" and f.is_file() and not f.is_symlink()]


def check_imports(sub: Submission) -> None:
    """Only the standard library (minus network/process modules), numpy, scipy, sklearn, torch, pandas;
    no dynamic code, import machinery or interpreter internals (see ``_ImportPolicy``)."""
    for file in _python_files(sub):
        rel = file.relative_to(sub.path).as_posix()
        try:
            refused = refused_constructs(file.read_bytes(), rel)
        except (SyntaxError, ValueError) as err:
            line = getattr(err, "lineno", None) or 1
            raise CheckFailed(f"{rel}:{line}: syntax error ({getattr(err, 'msg', err)})") from None
        if refused:
            line, what = refused[0]
            more = len({n for n, _ in refused}) - 1
            raise CheckFailed(f"{rel}:{line}: {what} is not allowed" + (f" (and {more} more line(s))" if more else ""))


def head_dependencies(sub: Submission) -> list[str]:
    """Allowed third-party packages the head imports (pre-imported by the sandbox worker)."""
    names: set[str] = set()
    for file in _python_files(sub):
        try:
            names |= imported_modules(file.read_bytes())
        except (SyntaxError, ValueError):
            pass
    return sorted(names & (ALLOWED_PACKAGES - {"harness"}))


STATIC_CHECKS: tuple[Callable[[Submission], None], ...] = (check_folder_size, check_no_data_files, check_imports)


# -- dynamic checks (run inside the sandbox on a tiny synthetic set) ---------------------------
def tiny_set(seed: int = 0, n: int = 240, n_test: int = 300, dim: int = 32) -> tuple[PreferenceData, ScoreBatch]:
    """A small preference set with a learnable direction, prompts, tokens and two rated objectives."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    base = rng.normal(size=(n, dim))
    chosen = (base + 0.8 * direction).astype(np.float32)
    rejected = (base - 0.8 * direction + 0.1 * rng.normal(size=(n, dim))).astype(np.float32)
    quality = lambda x: x @ direction  # noqa: E731
    ratings_c = np.stack([quality(chosen), rng.normal(size=n)], 1)
    ratings_r = np.stack([quality(rejected), rng.normal(size=n)], 1)
    ratings_c[::3, 1] = np.nan
    train = PreferenceData(
        chosen=chosen, rejected=rejected, prompt=rng.normal(size=(n, dim)).astype(np.float32),
        chosen_tokens=rng.integers(5, 400, n), rejected_tokens=rng.integers(5, 400, n),
        prompt_tokens=rng.integers(5, 100, n), objectives=("helpfulness", "verbosity"),
        ratings_chosen=ratings_c, ratings_rejected=ratings_r, source=np.full(n, "tiny"),
    )
    batch = ScoreBatch(
        response=rng.normal(size=(n_test, dim)).astype(np.float32),
        prompt=rng.normal(size=(n_test, dim)).astype(np.float32),
        response_tokens=rng.integers(5, 400, n_test), prompt_tokens=rng.integers(5, 100, n_test),
    )
    return train, batch


HeadFactory = Callable[[], object]


def _factory(head: Submission | HeadFactory) -> HeadFactory:
    return (lambda: make_head(head)) if isinstance(head, Submission) else head


def _scores(head, batch: ScoreBatch) -> np.ndarray:
    try:
        return check_scores(head.score(batch), len(batch))
    except HarnessError as err:
        raise CheckFailed(str(err)) from None


def _fit_score(make: HeadFactory, seed: int) -> tuple[object, np.ndarray]:
    train, batch = tiny_set()
    head = make()
    head.fit(train, seed=seed)
    return head, _scores(head, batch)


def _rows(batch: ScoreBatch, rows: np.ndarray) -> ScoreBatch:
    return ScoreBatch(**{k: (v[rows] if isinstance(v, np.ndarray) else v) for k, v in batch.__dict__.items()})


def run_dynamic_checks(head: Submission | HeadFactory, seed: int = 0) -> list[dict]:
    """Named checks that execute the head; returns ``[{name, passed, message}]``.

    ``head`` is a submission (loaded in this process) or a factory of fresh head instances.
    """
    make = _factory(head)
    results: list[dict] = []

    def record(name: str, fn: Callable[[], str | None]) -> bool:
        try:
            message = fn() or ""
            results.append({"name": name, "passed": True, "message": message})
            return True
        except HeadSkipped as err:
            results.append({"name": name, "passed": True, "message": f"skipped: {err}"})
            return False
        except (CheckFailed, SubmissionError) as err:
            results.append({"name": name, "passed": False, "message": str(err)})
        except Exception as err:  # the head's own failure, reported on one line
            text = str(err).splitlines()[0][:300] if str(err) else ""
            results.append({"name": name, "passed": False, "message": f"{type(err).__name__}: {text}".rstrip(": ")})
        return False

    first: dict[str, object] = {}

    def fit_score() -> None:
        first["head"], first["scores"] = _fit_score(make, seed)

    if not record("check_fit_score", fit_score):
        return results

    def deterministic() -> None:
        _, again = _fit_score(make, seed)
        if not np.array_equal(again, first["scores"]):
            diff = float(np.max(np.abs(again - first["scores"])))
            raise CheckFailed(f"two fits with seed {seed} gave different scores (max diff {diff:.3g})")

    def seeds_may_differ() -> str:
        _, other = _fit_score(make, seed + 1)
        same = np.array_equal(other, first["scores"])
        return "scores identical across seeds" if same else "scores differ across seeds"

    def equivariant() -> None:
        """Rows in another order, or beside other rows, get bit-identical scores (the run checks it too)."""
        _, batch = tiny_set()
        fitted, base = first["head"], first["scores"]
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(batch))
        shuffled = np.empty_like(base)
        shuffled[perm] = _scores(fitted, _rows(batch, perm))
        kept = rng.permutation(len(batch))[: len(batch) // 2]
        company = np.concatenate([kept, rng.integers(0, len(batch), len(batch) // 3)])
        accompanied = _scores(fitted, _rows(batch, company))[: len(kept)]
        for what, got, want in (("in another order", shuffled, base), ("beside other rows", accompanied, base[kept])):
            if diff := repeat_mismatch(got, want):
                raise CheckFailed(f"scores changed when the rows came {what} (by up to {diff:.3g}): score each "
                                  "row on its own, e.g. with harness.heads.score_rows")

    record("check_deterministic", deterministic)
    record("check_seeds_may_differ", seeds_may_differ)
    record("check_permutation_equivariant", equivariant)
    return results


def run_readout_check(variants: list[dict], readout: tuple[str, ...], make_with: Callable[[dict], object],
                      seed: int = 0) -> dict:
    """``check_readout``: a variant re-read from another variant's fit (``set_readout``) scores
    bit-identically to a fit of its own, so the run may share one fit among them."""
    train, batch = tiny_set()
    groups: dict[str, list[dict]] = {}
    for params in variants:
        key = repr(sorted((k, repr(v)) for k, v in params.items() if k not in readout))
        groups.setdefault(key, []).append(params)
    try:
        for group in (g for g in groups.values() if len(g) > 1):
            shared = make_with(group[0])
            shared.fit(train, seed=seed)
            if not callable(getattr(shared, "set_readout", None)):
                raise CheckFailed("variants share a fit (readout = [...]) but the head has no set_readout() method")
            for params in group[1:]:
                shared.set_readout(**{k: params[k] for k in readout if k in params})
                reread = _scores(shared, batch)
                own = make_with(params)
                own.fit(train, seed=seed)
                mine = _scores(own, batch)
                if not np.array_equal(reread, mine):
                    diff = float(np.max(np.abs(reread - mine)))
                    raise CheckFailed(f"re-reading a fit with {_readout_text(params, readout)} differs from a fit of "
                                      f"its own (by up to {diff:.3g}): a read-out param changes the fit; "
                                      "take it out of 'readout'")
    except HeadSkipped as err:
        return {"name": "check_readout", "passed": True, "message": f"skipped: {err}"}
    except (CheckFailed, SubmissionError) as err:
        return {"name": "check_readout", "passed": False, "message": str(err)}
    except Exception as err:  # noqa: BLE001 - the head's own failure, on one line
        text = str(err).splitlines()[0][:300] if str(err) else ""
        return {"name": "check_readout", "passed": False, "message": f"{type(err).__name__}: {text}".rstrip(": ")}
    shared_fits = sum(len(g) - 1 for g in groups.values())
    return {"name": "check_readout", "passed": True,
            "message": f"{shared_fits} of {len(variants)} variant(s) read out from a shared fit"}


def _readout_text(params: dict, readout: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={params[k]!r}" for k in readout if k in params)


def run_static_checks(path: Path) -> tuple[Submission | None, list[CheckResult]]:
    """Metadata first (nothing else can run without it), then every static check."""
    try:
        sub = check_metadata(path)
    except SubmissionError as err:
        return None, [CheckResult("check_metadata", False, str(err))]
    results = [CheckResult("check_metadata", True)]
    for check in STATIC_CHECKS:
        try:
            check(sub)
            results.append(CheckResult(check.__name__, True))
        except CheckFailed as err:
            results.append(CheckResult(check.__name__, False, str(err)))
    return sub, results
