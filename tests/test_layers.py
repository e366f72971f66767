"""The package's architecture: layers that import only downwards, and no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

from .helpers import ROOT

PACKAGE = ROOT / "seq2seq"

# Lowest first; a module may import its own layer and the layers below it.
LAYERS = [
    {"errors", "atomic", "machine", "memory", "checkpoint", "plot", "config"},
    {"data", "text"},
    {"model"},
    {"decoding"},
    {"evaluation", "distillation"},
    {"training"},
    {"export", "serve", "bench", "api", "sweep"},
    {"cli"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every seq2seq module `path` imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("seq2seq"):
                # `from . import corpora` names modules; `from .x import f` names a module x
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    out.add(full if (ROOT / Path(*full.split("."))).with_suffix(".py").exists()
                            or (ROOT / Path(*full.split("."))).is_dir() else target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("seq2seq")}
    return out


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} is in no layer; add its folder to LAYERS")


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")
            if module_name(p) != "seq2seq"}  # the top-level __init__ imports lazily, by name


def test_layers_import_only_downwards():
    wrong = [f"{m} -> {t}" for m, targets in graph().items() for t in targets
             if t != "seq2seq" and layer(t) > layer(m)]
    assert wrong == []


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in g.get(m, ()):
            if state.get(t) == 1:
                raise AssertionError("cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t in g and not state.get(t):
                visit(t, path + [t])
        state[m] = 2

    for m in g:
        if not state.get(m):
            visit(m, [m])


def test_the_data_pipeline_is_one_folder():
    names = {p.stem for p in (PACKAGE / "data").glob("*.py")}
    assert {"corpora", "user_files", "cleaning", "splits", "prepare", "cache_build",
            "batching", "vocab", "testsets"} <= names
    assert not any((PACKAGE / f"{n}.py").exists() for n in ("corpora", "sources", "prepare",
                                                             "building", "data", "text"))
