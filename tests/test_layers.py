"""The package's layers: imports only go down (no import circle, imports inside functions
counted), modules stay small enough to read, and the benchmarks import nothing from the
tests. Read from the source with ``ast``: nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hsmix_torch"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules ``path`` imports, at any depth of its code."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            submodules = {f"{base}.{a.name}" for a in node.names} & modules
            # "from package import module" needs the module, not the package's contents.
            found |= submodules if len(submodules) == len(node.names) else {base} | submodules
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(files)) for name, path in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_counting_imports_inside_functions() -> None:
    graph = _graph()
    assert "hsmix_torch.kernels.connectivity" in graph["hsmix_torch.superpixels.connectivity"]
    assert _cycles(graph) == []


def test_the_core_never_imports_an_adapter() -> None:
    adapters = {
        "hsmix_torch.kornia",
        "hsmix_torch.nnunet",
        "hsmix_torch.collate",
        "hsmix_torch.dictionary",
    }
    lower = ("functional", "kernels", "superpixels", "saliency")
    graph = _graph()
    core = {"hsmix_torch.module", "hsmix_torch.plan", "hsmix_torch.apply"}
    core |= {m for m in graph if m.startswith(tuple(f"hsmix_torch.{p}" for p in lower))}
    for module in core:
        imported = {m for m in graph[module] if m in adapters or m.rpartition(".")[0] in adapters}
        assert not imported, module


def _code_lines(source: str, node: ast.AST) -> int:
    """The lines of ``node`` that hold code: not blank, not comments, not docstrings (the
    API reference's Args, Returns and Raises do not make a class harder to read)."""
    docs = set()
    for n in ast.walk(node):
        if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(n) is not None:
            first = n.body[0]
            docs |= set(range(first.lineno, first.end_lineno + 1))
    lines = source.splitlines()
    return sum(
        1
        for i in range(node.lineno, node.end_lineno + 1)
        if i not in docs and lines[i - 1].strip() and not lines[i - 1].strip().startswith("#")
    )


def test_layers_import_downward_only() -> None:
    """The kernel layer imports no backend, saliency, stage or module (the SLIC start state
    it shares with the torch SLIC lives in ``functional``, below both), and the bottom
    (constants and checks) imports nothing of the package."""
    graph = _graph()
    above_kernels = ("superpixels", "saliency", "module", "plan", "apply", "sampler", "check")
    for module in (m for m in graph if m.startswith("hsmix_torch.kernels")):
        upward = {m for m in graph[module] if m.split(".")[1] in above_kernels}
        assert not upward, (module, upward)
    assert "hsmix_torch.functional.slic_grid" in graph["hsmix_torch.kernels.slic_kmeans"]
    for bottom in ("hsmix_torch._constants", "hsmix_torch._checks"):
        assert not graph[bottom], bottom


def test_modules_and_the_hsmix_class_stay_small() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 450, path.name
    source = (PACKAGE / "module.py").read_text()
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "HSMix")
    assert _code_lines(source, cls) <= 200


def test_benchmarks_import_nothing_from_the_tests() -> None:
    for path in (ROOT / "benchmarks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("tests"), path.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("tests") for a in node.names), path.name
