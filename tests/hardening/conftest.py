"""Hardening tests: print what was tried (fuzz inputs, faults injected) at the end of the run."""
from hardening_helpers import STATS


def pytest_terminal_summary(terminalreporter):
    if STATS:
        terminalreporter.section("hardening counts")
        for key in sorted(STATS):
            terminalreporter.write_line(f"{key}: {STATS[key]}")
