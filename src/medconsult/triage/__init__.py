"""Red-flag triage, independent of the diagnosis model.

Two layers: ``rules`` (torch-free regular expressions with negation, run when a consultation is
stored) and ``semantic`` (sentence embeddings against a curated library of red-flag
descriptions, run by the analysis worker). ``advice`` turns a flag's category into what the
patient should do; ``service`` persists flags on the consultation. Only ``semantic`` imports
torch, and only when it is used.
"""
