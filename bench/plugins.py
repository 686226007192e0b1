"""Methods from outside the package: `--plugin FILE.py|MODULE` and installed entry points.

A plugin is a Python module whose import registers methods with `bench.methods.register`
(and, rarely, generator variants). It is imported after this package's methods, so a name
it registers twice, or one the package already has, is refused. An installed package
exposes its plugin modules in the entry-point group `addes_bench.methods`:

    [project.entry-points."addes_bench.methods"]
    my_methods = "my_package.methods"

Every failure is one line (a `UserError`) naming the file, module or entry point. Worker
processes import the same plugins: the runner calls `load_plugins(ctx.plugins)` before it
reads the registry (bench/runner.py), so joblib and Dask workers see the same methods.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path

from bench.errors import UserError

ENTRY_POINT_GROUP = "addes_bench.methods"
_loaded: set[str] = set()  # the plugins imported (resolved paths, module names)
_entry_points_loaded = False


def resolve(plugin: str) -> str:
    """A --plugin value as loaded everywhere: an absolute path for a file (workers may run
    in another directory), the module name otherwise."""
    if plugin.endswith(".py") or Path(plugin).exists():
        path = Path(plugin).expanduser()
        if not path.is_file():
            raise UserError(f"--plugin {plugin}: no such file")
        return str(path.resolve())
    return plugin


def load_plugins(plugins: Iterable[str]) -> None:
    """Import each plugin (resolved by `resolve`) once per process, after the package's own
    methods. Raises UserError naming the plugin when its import fails."""
    from bench.methods import all_methods

    all_methods()  # the package's methods first: a clash is then always the plugin's
    for plugin in plugins:
        if plugin not in _loaded:
            _import(plugin)
            _loaded.add(plugin)


def _import(plugin: str) -> None:
    """Import a plugin file (under a module name derived from its path) or module."""
    is_file = plugin.endswith(".py") or Path(plugin).is_file()
    try:
        if not is_file:
            importlib.import_module(plugin)
            return
        stem = Path(plugin).stem
        name = f"addes_bench_plugin_{stem}_{hashlib.sha1(plugin.encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(name, plugin)
        if spec is None or spec.loader is None:
            raise ImportError("not a Python file")
        module = importlib.util.module_from_spec(spec)
        module.__plugin_source__ = plugin  # what registrations name as their origin
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    except UserError:
        raise
    except (Exception, SystemExit) as err:  # one line for the user, whatever the plugin does
        raise UserError(f"--plugin {plugin}: {_reason(err, plugin if is_file else None)}"
                        ) from None


def source_digest(origin: str) -> str | None:
    """Hash of the source of a plugin (a file, or a module outside this package) that
    registered a method, for its jobs' keys; None for this package's own methods."""
    if origin.startswith("bench.") or origin == "bench":
        return None
    module = sys.modules.get(origin)
    path = Path(origin) if Path(origin).is_file() else getattr(module, "__file__", None)
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]


def load_entry_points() -> None:
    """Import the modules of the `addes_bench.methods` entry points of installed packages."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except (Exception, SystemExit) as err:
            dist = f" (package {ep.dist.name})" if ep.dist is not None else ""
            raise UserError(f"entry point {ep.name} = {ep.value}{dist} in group "
                            f"{ENTRY_POINT_GROUP}: {_reason(err)}") from None


def _reason(err: BaseException, path: str | None = None) -> str:
    """One line: the exception and, for a plugin file, the line of it that raised."""
    text = str(err).strip().splitlines()
    where = ""
    if isinstance(err, SyntaxError) and err.lineno:
        where = f" (line {err.lineno})"
    tb = err.__traceback__
    while tb is not None and path is not None:  # the plugin's innermost frame
        if tb.tb_frame.f_code.co_filename == path:
            where = f" (line {tb.tb_lineno})"
        tb = tb.tb_next
    return f"{type(err).__name__}: {text[0] if text else ''}{where}"
