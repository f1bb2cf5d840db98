"""Run again, with ``-rs``, every test a pytest run recorded as skipped in its JUnit XML
(``--junitxml=FILE -o junit_family=xunit1``: each test case names its file).

    python .ci/rerun_skipped.py FILE

Step 1 of ``.ci/run`` runs the README's test command on the machine as it comes, where
the tests that need an extra or a service skip; step 2, with the extras and a Redis
server, runs exactly those tests, so that none of them goes unrun (a list of test files
kept by hand here once left the three-phase environment tests out of CI). A test that
skips again says why (``-rs``: data sets absent from the machine, say).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest


def skipped_node_ids(junit_xml: str) -> list[str]:
    """The pytest node ids of the skipped test cases (a module skipped as a whole at
    collection: its file)."""
    ids: list[str] = []
    for case in ET.parse(junit_xml).iter("testcase"):
        if case.find("skipped") is None:
            continue
        path = case.get("file") or ""
        classname = case.get("classname") or ""
        if not classname:  # the module was skipped when it was collected
            ids.append(path)
            continue
        module = path.removesuffix(".py").replace("/", ".")
        cls = classname[len(module):].lstrip(".")
        ids.append("::".join([path, *([cls] if cls else []), case.get("name") or ""]))
    return list(dict.fromkeys(ids))


def main(argv: list[str]) -> int:
    ids = skipped_node_ids(argv[0])
    print(f"re-running the {len(ids)} skipped tests or modules of {argv[0]}", flush=True)
    return int(pytest.main(["-rs", *ids])) if ids else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
