"""Locust scenarios for flash-sale concurrency and the checks run after each load test."""
