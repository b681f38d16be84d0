"""What the bench scripts share about a run that did not get to its end."""

from __future__ import annotations


def why_it_stopped(output: str) -> str:
    """The sentence a run that did not complete ends with: the suite's "could not check ...", an ERROR, a traceback's
    last line; else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("could not check", "ERROR", "evermuse:")) or "Error:" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"
