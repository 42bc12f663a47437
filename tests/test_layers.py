"""The layers, enforced: every import of every module (at the top or inside a function) is read
from the source and checked against the rules of docs/architecture.md. A broken rule fails with
the offending file, line and import.

    core      imports only the standard library and core
    config    imports core (and the cross-cutting errors)
    adapters  never import services, the Discord face (bot.app, cogs), the offline tools or discord
    services  never import the Discord face, the offline tools or discord
    render, offline tools (demo, preview), ops  never import discord or the Discord face
    the Discord face never imports the CLI; bot.app never imports cogs (it loads them by name)

and no two modules import each other, directly or round a longer loop.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "cogs")
CROSS_CUTTING = ("bot.errors",)  # one root of Wirebrief's errors; imports only the standard library


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (absolute)
    path: Path
    line: int
    top_level: bool  # runs at import time (not inside a function or an `if TYPE_CHECKING:` block)
    typing_only: bool = False  # inside `if TYPE_CHECKING:`: never runs

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.module} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> Iterator[Import]:
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def walk(node: ast.AST, top: bool, typing: bool = False) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, path, child.lineno, top, typing)
            elif isinstance(child, ast.ImportFrom):
                target = _absolute(module, path, child)
                for alias in child.names:  # `from bot.app import embeds` imports the module bot.app.embeds
                    sub = f"{target}.{alias.name}"
                    is_module = any((ROOT / sub.replace(".", "/")).with_suffix(s).exists() for s in (".py",)) or (
                        ROOT / sub.replace(".", "/") / "__init__.py").exists()  # fmt: skip
                    yield Import(module, sub if is_module else target, path, child.lineno, top, typing)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, False, typing)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                yield from walk(child, False, True)
            else:
                yield from walk(child, top, typing)

    yield from walk(tree, True)


def all_imports() -> list[Import]:
    found: list[Import] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.extend(imports_of(path))
    return found


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names or name == "__future__"


DISCORD_FACE = ("bot.app", "cogs", "discord")
OFFLINE = ("bot.offline",)

# (the modules a rule is about, what they must not import, why)
FORBIDDEN: list[tuple[tuple[str, ...], tuple[str, ...], str]] = [
    (
        ("bot.config",),
        ("bot.adapters", "bot.services", "bot.render", "bot.ops", *OFFLINE, *DISCORD_FACE, "bot.cli"),
        "config imports core only",
    ),
    (
        ("bot.adapters",),
        ("bot.services", "bot.render", "bot.ops", *OFFLINE, *DISCORD_FACE, "bot.cli"),
        "adapters never import services, the Discord face, the offline tools or discord",
    ),
    (
        ("bot.services",),
        (*OFFLINE, "bot.render", *DISCORD_FACE, "bot.cli"),
        "services never import the Discord face, the offline tools or discord",
    ),
    (
        ("bot.render", "bot.ops", *OFFLINE),
        (*DISCORD_FACE, "bot.cli"),
        "rendering without discord, operations and the offline tools never import discord or the Discord face",
    ),
    (("bot.app",), ("cogs", "bot.cli"), "the Bot loads cogs by name and never imports the CLI"),
    (("cogs",), ("bot.cli",), "cogs never import the CLI"),
    (("bot.errors", "bot.logs", "bot.progress"), ("bot", "cogs", "discord"), "cross-cutting: standard library only"),
]


def test_core_imports_only_the_standard_library_and_core() -> None:
    bad = [str(i) for i in all_imports() if within(i.module, "bot.core")
           and not (is_stdlib(i.target) or within(i.target, "bot.core"))]  # fmt: skip
    assert bad == [], "\n".join(bad)


def test_every_layer_keeps_to_its_imports() -> None:
    bad = []
    for imp in all_imports():
        for modules, forbidden, why in FORBIDDEN:
            if within(imp.module, *modules) and within(imp.target, *forbidden):
                allowed = within(imp.target, *CROSS_CUTTING) and not within(imp.module, *CROSS_CUTTING)
                if not allowed:
                    bad.append(f"{imp}  ({why})")
    assert bad == [], "\n".join(bad)


def test_the_offline_tools_never_reach_discord_through_another_module() -> None:
    """`demo` and `preview` start fast and work without discord.py: nothing they import at import
    time, however indirectly, imports discord."""
    graph: dict[str, set[str]] = {}
    for imp in all_imports():
        if imp.top_level:
            graph.setdefault(imp.module, set()).add(imp.target)
    starts = [m for m in graph if within(m, *OFFLINE)]
    assert starts, "the offline tools live in bot.offline"
    seen, stack, parents = set(starts), list(starts), dict.fromkeys(starts, "")
    while stack:
        current = stack.pop()
        for target in graph.get(current, ()):
            if within(target, "discord"):
                chain, at = [target], current
                while at:
                    chain.append(at)
                    at = parents[at]
                raise AssertionError(" <- ".join(chain))
            if target not in seen and within(target, *PACKAGES):
                seen.add(target)
                parents[target] = current
                stack.append(target)


def test_no_import_cycles() -> None:
    """No two modules need each other, directly or round a longer loop — counting imports deferred
    into a function to dodge the cycle (only `if TYPE_CHECKING:` imports are left out)."""
    graph: dict[str, set[str]] = {}
    for imp in all_imports():
        if not imp.typing_only and within(imp.target, *PACKAGES) and imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                out.append(component)
    return out


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The rules are only as good as the reader: a planted violation, top-level and lazy, is found."""
    planted = ROOT / "bot" / "core" / "_planted_for_test.py"
    planted.write_text("import json\nfrom bot.services import wiring\n\ndef f():\n    import discord\n")
    try:
        found = [str(i) for i in imports_of(planted)]
        bad = [s for s, i in zip(found, imports_of(planted), strict=True)
               if not (is_stdlib(i.target) or within(i.target, "bot.core"))]  # fmt: skip
    finally:
        planted.unlink()
    assert any("imports bot.services.wiring" in s and ":2:" in s for s in bad), bad
    assert any("imports discord" in s and ":5:" in s for s in bad), bad
    assert not any("json" in s for s in bad)
