"""The layers stay apart (ARCHITECTURE.md): kis knows neither plans nor chats; rebalance knows no chat,
no HTTP library, no configuration source, and of kis only its public types and rules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What rebalance may take from kis: the facade and the modules of types and rules it documents.
REBALANCE_MAY_USE_FROM_KIS = {"kis", "kis.models", "kis.errors", "kis.codes", "kis.krx", "kis.ticks", "kis.files"}
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
