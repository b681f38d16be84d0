"""Which modules pytest rewrites the asserts of in a session that loads the suite's plugin early (`-p`).

pytest rewrites every module of every distribution that registers a pytest plugin: for the libraries the suite
runs on that is some 350 modules (schemathesis, hypothesis, anyio). Their asserts are no tests, and without
bytecode (PYTHONDONTWRITEBYTECODE, as in many CI containers) pytest cannot keep what it rewrote, so every run
paid seconds for them before its first request. They are taken off pytest's list before they are imported;
the suite's own modules, the user's test files and conftests, and every other plugin keep pytest's rewriting.
"""

from __future__ import annotations

import sys

# Top-level modules of the suite's dependencies that register pytest plugins (and so are marked for rewriting),
# and the suite's own package, which an installed wheel registers too: the asserts of its modules are no tests.
# The suite's test modules (suite/test_*.py) are still rewritten, as every file named like a test is.
LIBRARIES = frozenset({"schemathesis", "hypothesis", "_hypothesis_pytestplugin", "_hypothesis_globals",
                       "_hypothesis_ftz_detector", "anyio", "conformance"})


def leave_libraries_unrewritten() -> bool:
    """Take the suite's libraries off pytest's list of modules to rewrite; whether there was such a list.

    pytest offers no public way to do this: the rewriting hook's set of marked names is read as pytest 9.0 and
    9.1 keep it (the pinned range). Any other shape, or no hook at all (--assert=plain), leaves pytest as it is:
    slower, never wrong.
    """
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        decided = getattr(finder, "_marked_for_rewrite_cache", None)
        if type(finder).__name__ == "AssertionRewritingHook" and isinstance(marked, set) and isinstance(decided, dict):
            marked.difference_update(LIBRARIES)
            decided.clear()
            return True
    return False
