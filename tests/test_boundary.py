"""The boundary between process code and the kernel: process code reaches
the kernel only through the trap port."""

from __future__ import annotations

import ast
from pathlib import Path

import minixvm

SRC = Path(minixvm.__file__).parent
PROCESS_CODE = ("servers", "lib", "programs")
ALLOWED = {"minixvm.kernel.trap"}


def kernel_imports(path: Path) -> list[str]:
    """Every module of minixvm.kernel that ``path`` imports (TYPE_CHECKING too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "minixvm" and any(a.name == "kernel" for a in node.names):
                found.append("minixvm.kernel")
            elif node.module.startswith("minixvm.kernel"):
                found.append(node.module if node.module != "minixvm.kernel" else names[1])
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("minixvm.kernel")]
    return found


def test_process_code_imports_nothing_of_the_kernel_but_the_trap_port() -> None:
    files = [p for d in PROCESS_CODE for p in sorted((SRC / d).rglob("*.py"))]
    assert len(files) > 20
    bad = {str(p.relative_to(SRC)): mods for p in files
           if (mods := [m for m in kernel_imports(p) if m not in ALLOWED])}
    assert bad == {}


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from minixvm.kernel.proc import Proc\n"
        "import minixvm.kernel.kernel\n"
        "from minixvm import kernel\n"
        "from minixvm.kernel import ipc\n"
        "from minixvm.kernel.trap import TrapPort\n"
    )
    assert kernel_imports(sample) == [
        "minixvm.kernel.proc", "minixvm.kernel.kernel", "minixvm.kernel",
        "minixvm.kernel.ipc", "minixvm.kernel.trap",
    ]
