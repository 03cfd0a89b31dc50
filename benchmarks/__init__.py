"""Speed benchmarks: nanocnn against PyTorch on the CPU, a naive loop LeNet and the hardware.

Run ``python -m benchmarks.run`` from the repository root; see ``benchmarks/README.md``.
"""
