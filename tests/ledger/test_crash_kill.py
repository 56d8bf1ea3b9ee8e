"""Guarantee 1 under real crashes: SIGKILL an appending process at random moments, many times."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.ledger_crashloop import kill_loop

KILLS = int(os.environ.get("LEDGERLINE_KILLS", "200"))


def test_sigkill_loop_loses_nothing_acknowledged(tmp_path: Path) -> None:
    stats = kill_loop(tmp_path, KILLS, seed=20261122)
    print(f"\n{stats}")
    assert stats.kills == KILLS
    assert stats.acked > 0 and stats.events >= stats.acked
    assert stats.recoveries > 0  # the loop really tore lines, not only killed between appends
