"""pixgrade: quality grading and filtering of e-commerce product photos."""

__version__ = "0.1.0"
