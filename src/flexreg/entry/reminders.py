"""Reminders, overdue notices and escalations for information requests (periodic job)."""
