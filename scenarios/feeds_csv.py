"""The scenario's series as a mosaik-csv file (the swap test's feeds federate)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from scenarios.prepare import PreparedScenario

#: the start time written into (and read from) a mosaik-csv feeds file
FEEDS_CSV_START = "2020-01-01 00:00:00"



def export_feeds_csv(prepared: PreparedScenario, path: str | Path) -> Path:
    """Write the series a scenario reads, over its run, in mosaik-csv's layout."""
    from powergrid.data import series_at_step

    cfg = prepared.config
    columns = [series_at_step(s, cfg.split, cfg.dt_h, cfg.dataset) for s in prepared.series]
    start = datetime.fromisoformat(FEEDS_CSV_START)
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write("Date," + ",".join(prepared.series) + "\n")
        for k in range(cfg.steps):
            stamp = (start + timedelta(seconds=k * cfg.step_s)).strftime("%Y-%m-%d %H:%M:%S")
            values = (repr(float(c[(cfg.start_step + k) % len(c)])) for c in columns)
            f.write(stamp + "," + ",".join(values) + "\n")
    return path
