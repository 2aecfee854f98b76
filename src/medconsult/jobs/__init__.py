"""Background analysis: the job engine (procrastinate), the inference worker and recovery."""
