"""Pieces every domain shares: database access, errors, events, audit, auth, rate limits, paging."""
