"""The learning loop: reviewed logs -> round dataset -> candidate adapter -> gate -> promotion."""
