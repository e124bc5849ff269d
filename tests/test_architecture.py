"""The shape of the code (issue 28), checked so it cannot drift back: no import cycle inside ``aim/``, no module of
``aim/`` or ``app/`` over 450 lines, and variants and re-train heads dispatched through their registries
(``aim/variants.py``, ``aim/model/heads.py``), not by comparing names across the code."""

from __future__ import annotations

import ast
from pathlib import Path

from aim import variants
from aim.model import names

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 450
REGISTRIES = {"aim/variants.py", "aim/model/heads.py"}
MAX_NAME_TESTS = 5  # the few left compare a variant kind ("aim") or DeepFM as the size reference


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of ``known`` that ``module`` imports, at module level or inside a function (a lazy import is
    still a dependency), by absolute or relative import."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found |= {m for m in (base, *(f"{base}.{a.name}" for a in node.names)) if m in known}
    # a package re-exporting its own submodules is not a dependency of theirs
    return {m for m in found if m != module and not m.startswith(module + ".")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_inside_aim():
    known = _modules("aim")
    graph = {m: _imports(m, p, known) for m, p in known.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_aim_or_app_is_over_450_lines():
    long = {str(p.relative_to(ROOT)): n for package in ("aim", "app") for p in (ROOT / package).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def _name_tests(tree: ast.AST) -> list[str]:
    """Comparisons of a value with a variant or head name (``x == "deepfm"``, ``x in ("fm", "deepfm")``) and
    prefix tests of one (``x.startswith("aim")``)."""
    words = set(variants.NAMES) | set(names.HEADS)

    def is_word(n: ast.AST) -> bool:
        return isinstance(n, ast.Constant) and n.value in words

    def is_words(n: ast.AST) -> bool:
        return isinstance(n, ast.Tuple | ast.List | ast.Set) and bool(n.elts) and all(map(is_word, n.elts))

    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if (any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops) and any(map(is_word, sides))) or (
                    any(isinstance(op, ast.In | ast.NotIn) for op in node.ops) and any(map(is_words, sides))):
                out.append(ast.unparse(node))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("startswith", "endswith", "removesuffix") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and any(w.startswith(node.args[0].value) or w.endswith(node.args[0].value) for w in words)):
            out.append(ast.unparse(node))
    return out


def test_variants_and_heads_are_dispatched_through_their_registries():
    found = {f"{p.relative_to(ROOT)}: {t}" for package in ("aim", "app") for p in (ROOT / package).rglob("*.py")
             if str(p.relative_to(ROOT)) not in REGISTRIES
             for t in _name_tests(ast.parse(p.read_text(encoding="utf-8")))}
    assert len(found) <= MAX_NAME_TESTS, sorted(found)


def test_the_name_test_finder_sees_each_form():
    code = 'a == "deepfm"\nb in ("fm", "ipnn")\nc.startswith("aim")\nd == "other"\ne in ("x", "fm")\n'
    assert _name_tests(ast.parse(code)) == ["a == 'deepfm'", "b in ('fm', 'ipnn')", "c.startswith('aim')"]
