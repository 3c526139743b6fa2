"""Live feeds: committed events relayed through Redis to WebSocket subscribers."""
