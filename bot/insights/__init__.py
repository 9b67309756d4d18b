"""Insights for staff: how well the bot serves (analytics) and what customers ask that it does not know."""
