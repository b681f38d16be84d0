"""What the bench scripts share about a run that did not get to its end."""

from __future__ import annotations

# The first words of the suite's outcome headline for a run that was not checked to the end.
OUTCOMES = ("PARTIAL after", "INTERRUPTED after", "NOT CHECKED after", "INTERNAL ERROR after", "NOT RUN:")


def why_it_stopped(output: str) -> str:
    """The sentence a run that did not complete ends with: the suite's outcome headline ("PARTIAL after ...",
    "could not check ..."), an ERROR, a traceback's last line; else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith((*OUTCOMES, "could not check", "ERROR", "evermuse:")) or "Error:" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"
