"""Baselines every result is reported against: ``zero`` and ``rule`` (see
:mod:`powergrid.policies`) and the perfect-foresight day-ahead optimum
(:mod:`powergrid.baselines.oracle`)."""

from powergrid.baselines.oracle import DayAheadOracle, DayInputs, Schedule, SchedulePolicy

__all__ = ["DayAheadOracle", "DayInputs", "Schedule", "SchedulePolicy"]
