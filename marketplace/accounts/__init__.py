"""Accounts: registration, login with optional TOTP, tokens, profile, addresses and roles."""
