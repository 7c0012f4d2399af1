"""Adversarial distillation of a teacher into a few-step student (SnapGen-V, SF-V, LADD)."""
