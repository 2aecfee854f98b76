"""Diagnostic classifier: training, evaluation and the inference service.

Importing this package (and the torch-free modules ``labels``, ``types``, ``records``, ``triage``,
``artifacts``, ``errors``, ``commands``) never imports torch: the web app uses them directly.
Only ``train``, ``evaluate``, ``predict``, ``batching`` and ``testing`` need torch.
"""
