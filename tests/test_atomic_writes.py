"""Every file the suite writes goes through bench/io.py (temporary file + fsync + rename), so a
kill never leaves a torn record, table, report or cached artifact behind.

An AST scan of bench/, addes/ and baselines/ (bench/io.py and addes/codec.py aside) finds every
call that writes a file: open()/Path.open()/os.open() for writing, write_text/write_bytes,
torch.save, np.save and its kin, joblib/json/pickle.dump, DataFrame.to_csv/to_json/... with a
target, savefig, PIL's save, tofile, shutil's copies. Writing into an in-memory buffer (a name
bound to io.BytesIO or io.StringIO in the same function) is allowed: the bytes are then written
atomically. The scanner itself is checked on a snippet holding each forbidden form.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("bench", "addes", "baselines")
HELPERS = (ROOT / "bench" / "io.py", ROOT / "addes" / "codec.py")  # the atomic writers

# file -> calls allowed there, with the reason
ALLOWED = {
    "bench/locks.py": ("os.open", "a lock file: opened for flock, its content is never written"),
    "bench/cli.py": ("os.open", "os.devnull, to silence a closed stdout"),
    "addes/estimator.py": ("codec.save", "addes.codec's atomic save (the library's own "
                           "writer: addes does not import bench)"),
    "bench/fetch.py": ("part.open", "a download's .part file, appended in place to resume; it "
                       "becomes the file only by an atomic rename once verified"),
}
WRITE_METHODS = {"write_text", "write_bytes", "savefig", "tofile", "savetxt", "savez",
                 "savez_compressed", "to_pickle", "to_parquet", "to_excel", "to_feather",
                 "to_hdf", "to_sql"}
TARGET_METHODS = {"to_csv", "to_json", "to_latex", "to_html", "to_markdown", "to_string"}
DUMPERS = {"save", "dump"}  # torch.save, np.save, PIL Image.save; joblib/json/pickle.dump
COPIERS = {"copy", "copy2", "copyfile", "copytree", "copyfileobj"}
OPENERS = {"Image", "io", "gzip", "bz2", "lzma", "codecs", "tarfile", "zipfile"}  # X.open(f, mode)
WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}


def _buffers(func: ast.AST) -> set[str]:
    """Names bound to io.BytesIO()/io.StringIO() in a function (or module) body."""
    names = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            called = node.value.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in ("BytesIO", "StringIO"):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _mode(call: ast.Call, position: int) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == "mode":
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _writes_by_open(call: ast.Call, name: str, is_attr: bool) -> bool:
    if is_attr and isinstance(call.func.value, ast.Name) and call.func.value.id == "os":
        flags = {n.attr for n in ast.walk(call.args[1]) if isinstance(n, ast.Attribute)} \
            if len(call.args) > 1 else set()
        return bool(flags & WRITE_FLAGS)
    module_open = is_attr and isinstance(call.func.value, ast.Name) \
        and call.func.value.id in OPENERS
    mode = _mode(call, 0 if is_attr and not module_open else 1)  # Path.open(mode), open(f, mode)
    if mode is None:
        return False  # "r"
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True  # a mode computed at run time: cannot be shown read-only


def write_calls(source: str) -> list[tuple[int, str]]:
    """(line, call text) of every call in `source` that writes a file outside a buffer."""
    tree = ast.parse(source)
    found = []
    scopes = [tree, *(n for n in ast.walk(tree)
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]
    buffers_of = {}
    for scope in scopes:  # innermost function wins: walk order is outer first
        buffers = _buffers(scope)
        for node in ast.walk(scope):
            buffers_of[id(node)] = buffers
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                and (n.module or "").split(".")[0] in ("torch", "numpy", "joblib", "json",
                                                       "pickle", "shutil")
                for a in n.names if a.name in DUMPERS | COPIERS}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        is_attr = isinstance(func, ast.Attribute)
        name = func.attr if is_attr else getattr(func, "id", "")
        buffers = buffers_of.get(id(call), set())

        # called only within this iteration: bind this call's node and buffers explicitly
        def into_buffer(position: int, call: ast.Call = call, buffers: set = buffers) -> bool:
            arg = call.args[position] if len(call.args) > position else None
            return isinstance(arg, ast.Name) and arg.id in buffers

        if name == "open":
            bad = _writes_by_open(call, name, is_attr)
        elif not is_attr and name not in imported:
            bad = False  # a function of the project's own (e.g. bench.perf's save)
        elif name in WRITE_METHODS:
            bad = not into_buffer(0)
        elif name in TARGET_METHODS:  # without a target they return the text
            bad = (bool(call.args) and not into_buffer(0)) or any(
                kw.arg in ("path_or_buf", "buf", "path") for kw in call.keywords)
        elif name in DUMPERS:  # torch.save(obj, f) / np.save(f, arr) / img.save(f)
            bad = not (into_buffer(0) or into_buffer(1))
        elif name in COPIERS:
            bad = (is_attr and isinstance(func.value, ast.Name) and func.value.id == "shutil") \
                or not is_attr
        else:
            bad = False
        if bad:
            found.append((call.lineno, ast.unparse(call)[:100]))
    return found


def test_every_write_goes_through_the_atomic_helpers():
    offenders = []
    n_files = 0
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path in HELPERS:
                continue
            n_files += 1
            rel = str(path.relative_to(ROOT))
            allowed = ALLOWED.get(rel, ("",))[0]
            for line, text in write_calls(path.read_text()):
                if not (allowed and text.startswith(allowed + "(")):
                    offenders.append(f"{rel}:{line}: {text}")
    assert n_files > 30
    assert not offenders, ("write these through bench/io.py or addes/codec.py:\n"
                           + "\n".join(offenders))


FORBIDDEN = '''
import gzip, io, os, json, pickle, shutil, joblib, numpy as np, torch
from pathlib import Path
from torch import save
def f(path, frame, fig, img, arr, mode, fh):
    open(path, "w")
    open(path, mode="ab")
    open(path, mode)
    Path(path).open("w", encoding="utf-8")
    gzip.open(path, "wt")
    path.open("r+b")
    os.open(path, os.O_WRONLY | os.O_CREAT)
    path.write_text("x")
    path.write_bytes(b"x")
    torch.save(arr, path)
    save(arr, path)
    np.save(path, arr)
    np.savez_compressed(path, a=arr)
    joblib.dump(arr, path)
    json.dump(arr, open(path))
    pickle.dump(arr, fh)
    frame.to_csv(path)
    frame.to_json(path_or_buf=path)
    fig.savefig(path)
    img.save(path)
    arr.tofile(path)
    shutil.copy(path, "b")
'''
ALLOWED_FORMS = '''
import io, numpy as np
def g(path, frame, fig, img):
    open(path)
    open(path, "rb")
    Image.open(path)
    path.open(encoding="utf-8")
    text = frame.to_csv(index=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    img.save(buf, format="JPEG")
    np.save(buf, frame)
    save_results(path)
'''


def test_the_scanner_sees_each_forbidden_form():
    lines = FORBIDDEN.splitlines()
    expected = {n for n, line in enumerate(lines, 1) if line.startswith("    ")}
    missed = expected - {n for n, _ in write_calls(FORBIDDEN)}
    assert not missed, [lines[n - 1].strip() for n in sorted(missed)]
    assert write_calls(ALLOWED_FORMS) == []
