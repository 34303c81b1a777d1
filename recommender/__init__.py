"""Questionnaire features, the PyTorch recommender, training, evaluation and serving (issue 5)."""
