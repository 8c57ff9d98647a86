"""The import graph: dependencies point one way (server uses collector, never
the reverse) and no module imports itself back through others."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("collector", "server")


def imports_of(path: Path) -> set[str]:
    """Every ghostwatch module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in PACKAGES)
    return found


def graph() -> dict[str, set[str]]:
    modules = {f"{p.parent.name}.{p.stem}": p for pkg in PACKAGES for p in (ROOT / pkg).glob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def test_collector_never_imports_server():
    assert {m: deps for m, deps in graph().items()
            if m.startswith("collector.") and any(d.startswith("server.") for d in deps)} == {}


def test_the_import_graph_has_no_cycles():
    edges = graph()
    cycles = []

    def visit(node, stack):
        for dep in edges[node]:
            if dep in stack:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in done:
                visit(dep, stack + [dep])
        done.add(node)

    done: set[str] = set()
    for module in sorted(edges):
        if module not in done:
            visit(module, [module])
    assert cycles == []


def test_platform_readers_never_import_their_dispatcher():
    edges = graph()
    assert "collector.pages" not in edges["collector.lancers"] | edges["collector.crowdworks"]


# Imported inside a function on purpose, and why: Playwright is slow to import
# and only a browser needs it (the server imports collector.fetch and never
# starts one).
LAZY_IMPORTS = {"playwright.sync_api"}


def test_ghostwatch_modules_are_imported_at_the_top_of_a_module():
    """An import inside a function hides a dependency (and can hide a cycle):
    every import is at the top of its module, but the deliberate lazy ones."""
    inside = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).glob("*.py")):
            for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(func):
                    if isinstance(node, ast.Import):
                        names = [alias.name for alias in node.names]
                    elif isinstance(node, ast.ImportFrom):
                        names = [node.module or "."]
                    else:
                        continue
                    inside += [f"{pkg}/{path.name}:{node.lineno} {name}" for name in names if name not in LAZY_IMPORTS]
    assert inside == []
