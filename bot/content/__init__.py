"""Replies and knowledge-base articles as content: stored in the database, edited by staff."""
