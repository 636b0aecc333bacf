"""Batch jobs over file listings: ``labeler batch label|verify SRC --engine local|ray``."""
