"""The recommender: interactions as a matrix (data.py), models (models.py), ranking metrics (metrics.py) and
offline evaluation (evaluate.py)."""
