"""Auditor reports: JSON lines, CSV and a self-contained HTML report, plus the parallel, resumable runner."""
