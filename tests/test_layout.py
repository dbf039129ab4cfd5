"""The layering the folders promise, read from the source with `ast` (every import, also those
inside functions): the detector (mtcnn_core/) never needs the tools built around it
(mtcnn_core/tools/) nor a browser library, the app's pure figures (ui/figures/) never need
Streamlit, and no two mtcnn_core modules need each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

BROWSER_LIBS = ("streamlit", "plotly")


def module_name(path: Path) -> str:
    """'mtcnn_core/tools/cli.py' -> 'mtcnn_core.tools.cli'; a package's __init__ is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(folder: str) -> dict[str, Path]:
    """Module name -> file, for every .py file under `folder`."""
    return {module_name(p): p for p in sorted((ROOT / folder).rglob("*.py"))}


def imported_names(path: Path, known: set) -> set[str]:
    """Absolute names of the modules `path` imports. `from pkg import x` counts as importing the
    module pkg.x when that is one of the `known` modules, else as importing pkg itself."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            base = ".".join(x for x in (base if node.level else "", node.module or "") if x)
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return found


def import_graph(folder: str, known: set | None = None) -> dict[str, set[str]]:
    files = sources(folder)
    known = set(files) | (known or set())
    return {mod: imported_names(path, known) for mod, path in files.items()}


def top(name: str) -> str:
    return name.partition(".")[0]


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the graph's own modules (as a path a -> ... -> a), or None."""
    done, path = set(), []

    def visit(mod):
        if mod in path:
            return path[path.index(mod) :] + [mod]
        if mod in done:
            return None
        path.append(mod)
        for dep in sorted(graph[mod] & graph.keys()):
            found = visit(dep)
            if found:
                return found
        path.pop()
        done.add(mod)
        return None

    for mod in sorted(graph):
        found = visit(mod)
        if found:
            return found
    return None


def test_the_core_imports_no_browser_library():
    bad = {mod: sorted(d for d in deps if top(d) in BROWSER_LIBS) for mod, deps in import_graph("mtcnn_core").items()}
    assert not {m: d for m, d in bad.items() if d}


def test_the_detector_does_not_import_the_tools_around_it():
    """Only the package's `python -m` entry point may reach into mtcnn_core.tools."""
    graph = import_graph("mtcnn_core")
    assert any(m.startswith("mtcnn_core.tools.") for m in graph)  # the split exists
    bad = {
        mod: sorted(d for d in deps if d == "mtcnn_core.tools" or d.startswith("mtcnn_core.tools."))
        for mod, deps in graph.items()
        if not mod.startswith("mtcnn_core.tools") and mod != "mtcnn_core.__main__"
    }
    assert not {m: d for m, d in bad.items() if d}


def test_the_figures_do_not_need_streamlit():
    """Nothing under ui/figures/, nor any ui module it imports (transitively), imports streamlit."""
    graph = import_graph("ui")
    figures = {m for m in graph if m.startswith("ui.figures.")}
    assert len(figures) >= 5
    reached, todo = set(), sorted(figures)
    while todo:
        mod = todo.pop()
        if mod in reached or mod not in graph:
            continue
        reached.add(mod)
        todo.extend(d for d in graph[mod] if top(d) == "ui")
    bad = {mod: sorted(d for d in graph[mod] if top(d) == "streamlit") for mod in reached}
    assert not {m: d for m, d in bad.items() if d}
    assert not any(m.startswith("ui.views") for m in reached)


def test_no_import_cycle_in_the_core():
    graph = import_graph("mtcnn_core")
    assert len(graph) > 20
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_the_cycle_finder_finds_one():
    """The check above can fail: a two-module loop and a self-contained chain."""
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "numpy"}, "b": set()}) is None
