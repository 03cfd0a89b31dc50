"""The house by floors (docs/architecture.md): every module of src/nanocnn is on the page, on
one floor; every import runs down or across a floor, never up; no two modules import each
other, directly or round a circle; no file is much over 300 lines.

Imports are read from the source (``ast``): those at the top of a module and those inside a
function alike, since both run; only the type-only imports under ``if TYPE_CHECKING:`` are
left out. ``from nanocnn import io`` counts as an import of the module ``nanocnn.io``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "nanocnn"
PAGE = Path(__file__).parents[1] / "docs" / "architecture.md"
MAX_LINES = 320  # "files small enough to read in one sitting": about 300


def module_name(path: Path) -> str:
    """``src/nanocnn/io/arrays.py`` -> ``nanocnn.io.arrays``; a package's ``__init__`` is
    the package."""
    parts = ["nanocnn", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def floors() -> dict[str, int]:
    """Each module's floor, as the page lists them: ``### Floor N: ...`` then a line
    ``- `path`: ...`` per module."""
    floor_of: dict[str, int] = {}
    floor = None
    for line in PAGE.read_text().splitlines():
        if heading := re.match(r"### Floor (\d+):", line):
            floor = int(heading.group(1))
        elif line.startswith("## "):
            floor = None
        elif floor is not None and (item := re.match(r"- `([\w/]+\.py)`: \S", line)):
            name = module_name(PACKAGE / item.group(1))
            assert name not in floor_of, f"{item.group(1)} is listed twice"
            floor_of[name] = floor
    return floor_of


def imports(name: str) -> Iterator[tuple[str, int]]:
    """(imported nanocnn module, line) for each import of module ``name`` that runs."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for node in ast.walk(branch)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno


def test_every_module_is_on_the_page_once():
    listed = floors()
    assert sorted(set(MODULES) - set(listed)) == [], "modules missing from docs/architecture.md"
    assert sorted(set(listed) - set(MODULES)) == [], "the page lists modules that do not exist"


def test_every_import_runs_down_a_floor_or_across():
    floor_of = floors()
    upward = [
        f"{name} (floor {floor_of[name]}) imports {target} (floor {floor_of[target]}), line {line}"
        for name in MODULES
        for target, line in imports(name)
        if floor_of[target] > floor_of[name]
    ]
    assert upward == []


def test_no_module_imports_itself_round_a_circle():
    graph = {name: {target for target, _ in imports(name)} for name in MODULES}
    circles = [component for component in strongly_connected(graph) if len(component) > 1]
    assert circles == []


def test_no_file_is_much_over_300_lines():
    long = {str(path.relative_to(PACKAGE)): n for path in MODULES.values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert long == {}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph``, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def test_the_checks_find_what_they_look_for():
    """The graph and circle finder on a known example, so the tests above can fail."""
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"], ["c"]]
    found = dict(imports("nanocnn.layers.residual"))
    assert "nanocnn.layers.sequential" in found and "nanocnn.errors" in found
    assert "nanocnn.parallel" not in dict(imports("nanocnn.datasets.image_arrays"))  # type-only
