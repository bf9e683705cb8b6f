"""Evaluation: the answering arms, question sets, metrics, runner, promotion gate and report."""
