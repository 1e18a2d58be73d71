"""The layers stay apart (ARCHITECTURE.md): kis knows neither plans nor chats; rebalance knows no chat,
no HTTP library, no configuration source, and of kis only its public types and rules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What rebalance may take from kis: the facade and the modules of types and rules it documents.
REBALANCE_MAY_USE_FROM_KIS = {"kis", "kis.models", "kis.errors", "kis.codes", "kis.krx", "kis.ticks", "kis.files", "kis.accounts",
                              "kis.markets", "kis.venues"}
REBALANCE_MUST_NOT_IMPORT = {"bot", "telegram", "requests", "urllib3", "websockets", "html"}
KIS_MUST_NOT_IMPORT = {"bot", "rebalance", "telegram"}
# A chat's markup and message limit: the front ends' business.
TELEGRAM_MARKS = ("<pre>", "</pre>", "<b>", "</b>")
TELEGRAM_MESSAGE_LIMIT = 4096


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports (at any depth: lazy imports count too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def where(path: Path, line: int, module: str) -> str:
    return f"{path.relative_to(ROOT)}:{line} imports {module}"


@pytest.mark.parametrize("path", sources("rebalance"), ids=lambda p: p.name)
def test_rebalance_imports_no_front_end_no_http_and_only_public_kis(path):
    wrong = [where(path, line, module) for line, module in imports(path)
             if top(module) in REBALANCE_MUST_NOT_IMPORT
             or (top(module) == "kis" and module not in REBALANCE_MAY_USE_FROM_KIS)]
    assert not wrong, "rebalance/ crosses its layer: " + "; ".join(wrong)


@pytest.mark.parametrize("path", sources("rebalance"), ids=lambda p: p.name)
def test_rebalance_writes_no_chat_markup_and_knows_no_message_limit(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    constants = [node for node in ast.walk(tree) if isinstance(node, ast.Constant)]
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    markup = [f"line {c.lineno}: {c.value!r}" for c in constants if isinstance(c.value, str) and id(c) not in docstrings
              and any(mark in c.value for mark in TELEGRAM_MARKS)]
    limits = [f"line {c.lineno}" for c in constants if type(c.value) is int and c.value == TELEGRAM_MESSAGE_LIMIT]
    assert not markup and not limits, f"{path.relative_to(ROOT)} speaks Telegram: {markup + limits}"


@pytest.mark.parametrize("path", sources("kis"), ids=lambda p: str(p.relative_to(ROOT / "kis")))
def test_kis_knows_neither_plans_nor_chats(path):
    wrong = [where(path, line, module) for line, module in imports(path) if top(module) in KIS_MUST_NOT_IMPORT]
    assert not wrong, "kis/ crosses its layer: " + "; ".join(wrong)


def test_the_rules_see_every_module():
    # A moved package would make the tests above pass vacuously.
    assert len(sources("rebalance")) > 10 and len(sources("kis")) > 10
    assert any(module == "kis.models" for path in sources("rebalance") for _, module in imports(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each of the project's modules -> the project's modules it imports (lazy imports count too);
    `from package import module` is an edge to that module, `from package import name` to the package."""
    paths = {_module_name(path): path for package in ("bot", "kis", "rebalance") for path in sources(package)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in paths}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    edges |= {full} if full in paths else ({node.module} if node.module in paths else set())
        graph[name] = edges - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `graph`: its strongly connected parts of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            part = []
            while True:
                top_of_stack = stack.pop()
                part.append(top_of_stack)
                if top_of_stack == module:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_one_that_imports_it_back_at_any_distance():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" ↔ ".join(part) for part in found)


def test_the_circle_finder_sees_a_circle_of_three_and_a_lazy_import():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "kis.sim" in graph["kis"]  # open_client's lazy import of the simulator is an edge
    assert "kis.endpoints" in graph["kis.notices"]  # `from kis import endpoints as ep` names a module


def test_no_function_of_the_planner_is_longer_than_a_screen():
    # build_plan reads as its module header does: where the account is, where the model wants it, what to trade.
    path = ROOT / "rebalance" / "plan.py"
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60]
    assert not long, "rebalance/plan.py: " + "; ".join(long)
