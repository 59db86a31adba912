"""Batch triage of issue-tracker exports (see service/triage/run.py)."""

from service.triage.readers import FORMATS, Report, read_reports, report_text
from service.triage.run import TriageStats, triage

__all__ = ["FORMATS", "Report", "TriageStats", "read_reports", "report_text", "triage"]
