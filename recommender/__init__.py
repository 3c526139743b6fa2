"""Recommendations trained on browsing and purchase events, evaluated offline and served live."""
