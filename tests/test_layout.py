"""The package layout (docs/architecture.md): no import circles (module-level or inside
functions); the CTranslate2 side never imports torch; the ruler runs neither the rewriter nor the
method; the two halves (text/, image/) do not import each other; the engines never reach the
method or the run; the shared plumbing stays out of both halves; no module over 400 lines
without saying why."""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "textcycle"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the textcycle modules it imports anywhere in its file."""
    modules = {module_name(p): p for p in PKG.rglob("*.py")}
    graph = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")
                    up = up[: len(up) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if t in modules and t != mod:
                    graph[mod].add(t)
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if n.startswith(m + ".") or m.startswith(n + ".") and n == m.rsplit(".", 1)[0]:
                continue  # a package and its own modules (__init__ re-exports) are one unit
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_ruler_never_imports_the_rewriter_or_the_method():
    graph = import_graph()
    forbidden = {
        "textcycle.rewrite",
        "textcycle.rewriter",
        "textcycle.engines",
        "textcycle.engines.torch",
        "textcycle.text.method",
        "textcycle.text.train",
        "textcycle.text.networks",
    }
    for mod, deps in graph.items():
        if mod.startswith("textcycle.evaluate"):
            assert not deps & forbidden, f"{mod} imports {deps & forbidden}"


def imports_of(path: Path) -> set[str]:
    """The top-level names of every module a file imports (anywhere in it)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


def closure(graph: dict, start: list[str]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph[m]
    return seen


CT2_SIDE = ["textcycle.engines.ct2", "textcycle.model_folder"]


def test_the_ctranslate2_side_never_imports_torch():
    """Every module the CTranslate2 engine reaches, through any import at any depth (inside
    functions too), is free of torch and transformers: the fast path cannot pull them in."""
    graph = import_graph()
    modules = {module_name(p): p for p in PKG.rglob("*.py")}
    reached = closure(graph, CT2_SIDE)
    assert "textcycle.engines.discriminator" in reached and "textcycle.text.vocab" in reached
    heavy = {m: imports_of(modules[m]) & {"torch", "transformers"} for m in reached}
    assert not {m: h for m, h in heavy.items() if h}


def test_the_halves_do_not_import_each_other():
    graph = import_graph()
    for mod, deps in graph.items():
        if mod.startswith("textcycle.image"):
            assert not {d for d in deps if d.startswith("textcycle.text")}, mod
        if mod.startswith("textcycle.text"):
            assert not {d for d in deps if d.startswith("textcycle.image")}, mod


def test_engines_and_the_server_never_reach_the_method_or_the_run():
    graph = import_graph()
    training = {"textcycle.text.method", "textcycle.text.train", "textcycle.text.selftrain"}
    for mod in graph:
        if mod.startswith(("textcycle.engines", "textcycle.serve")) or mod in (
            "textcycle.rewriter",
            "textcycle.rewrite",
        ):
            assert not closure(graph, [mod]) & training, mod


SHARED = ["cli", "errors", "files", "checkpoint", "plots", "cache", "shapes", "config"]


def test_the_shared_plumbing_stays_out_of_both_halves():
    graph = import_graph()
    for name in SHARED:
        deps = graph[f"textcycle.{name}"]
        halves = {d for d in deps if d.startswith(("textcycle.text", "textcycle.image", "textcycle.engines"))}
        if name == "config":  # the text options as the default config, and their old names (until 0.2)
            halves -= {"textcycle.text", "textcycle.text.config"}
        assert not halves, f"textcycle.{name} imports {halves}"


def test_no_module_over_400_lines_without_a_reason():
    for p in PKG.rglob("*.py"):
        n = len(p.read_text(encoding="utf-8").splitlines())
        doc = ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or ""
        assert n <= 400 or "400 lines" in doc, f"{p.relative_to(REPO)}: {n} lines and no reason in its docstring"


def test_rewrite_module_imports_no_torch():
    code = "import sys, textcycle.rewrite; print('torch' in sys.modules, 'transformers' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]
