"""The marketplace application: HTTP API, CLI and database for buyers, vendors, marketers and admins."""
