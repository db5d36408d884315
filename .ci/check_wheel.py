"""Check a built wheel holds what a release needs and nothing from the checkout it should not.

Usage: ``python .ci/check_wheel.py dist/lyzr_stream-*.whl`` (run by ``make dist``).
"""

from __future__ import annotations

import sys
import zipfile

PACKAGES = ("lyzr_stream", "langchain_lyzr_stream", "llamaindex_lyzr_stream")
# Top-level folders of the checkout that are not part of the library.
NOT_SHIPPED = ("tests/", "benchmarks/", "examples/", "constraints/", ".ci/")


def problems(names: list[str]) -> list[str]:
    found = []
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        found.append("no LICENSE under .dist-info/licenses/")
    for package in PACKAGES:
        if f"{package}/py.typed" not in names:
            found.append(f"no {package}/py.typed")
        if f"{package}/__init__.py" not in names:
            found.append(f"no {package}/__init__.py")
    found += [f"ships {n}" for n in names if n.startswith(NOT_SHIPPED)]
    found += [f"ships {n}" for n in names if "/tests/" in n or n.endswith("openai_compat.py")]
    return found


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: check_wheel.py WHEEL...", file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        with zipfile.ZipFile(path) as wheel:
            found = problems(wheel.namelist())
        for problem in found:
            print(f"{path}: {problem}", file=sys.stderr)
        failed = failed or bool(found)
        if not found:
            print(f"{path}: LICENSE, py.typed x{len(PACKAGES)}, no tests: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
