"""hypothesis's home directory for a session of the suite: a scratch folder per run, with the tables that depend
on nothing a run does kept between runs.

hypothesis keeps what it learns in its home directory (.hypothesis/ of the working directory by default). Saved
examples would steer the next run's requests, whatever its --seed, so each run starts from an empty folder and
removes it at the end. Two of hypothesis's folders there hold pure functions of their input, which every run
would otherwise compute again before its first generated request (together about two seconds of CPU):
- unicode_data: which characters each Unicode category and codec holds (a function of the Python build);
- constants: the literals of each local source file, which hypothesis mixes into what it generates, in a file
  named by the hash of the source (a function of the file's text).
Those two are copied in from the suite's cache folder, per hypothesis version, and what the run added is copied
back. Deleting the cache folder costs time, never a result.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import hypothesis
from hypothesis.configuration import set_hypothesis_home_dir

from conformance.pytest.coverage_cache import cache_dir

KEPT = ("unicode_data", "constants")  # hypothesis's own folder names (hypothesis.internal.charmap, constants_ast)


def kept_folder() -> Path:
    return cache_dir() / f"hypothesis-{hypothesis.__version__}"


def enter() -> str:
    """A fresh home for hypothesis, holding the kept tables; returns its path."""
    scratch = tempfile.mkdtemp(prefix="evermuse-hypothesis-")
    for name in KEPT:
        with contextlib.suppress(OSError):  # nothing kept yet, or unreadable: hypothesis computes them
            shutil.copytree(kept_folder() / name, Path(scratch) / name)
    set_hypothesis_home_dir(scratch)
    return scratch


def leave(scratch: str) -> None:
    """Keep the tables hypothesis computed in this run, then remove the scratch folder."""
    for name in KEPT:
        computed, kept = Path(scratch) / name, kept_folder() / name
        with contextlib.suppress(OSError):  # a cache that cannot be written costs time, never the run
            for table in computed.rglob("*"):
                target = kept / table.relative_to(computed)
                if table.is_file() and not table.name.startswith(".") and not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    # Atomically: another run may be reading the folder meanwhile.
                    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
                    os.close(handle)
                    shutil.copyfile(table, temporary)
                    os.replace(temporary, target)
    shutil.rmtree(scratch, ignore_errors=True)
    set_hypothesis_home_dir(None)
