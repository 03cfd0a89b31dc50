"""Default recipes against tuned ones: nanocnn's default command, ``nanocnn tune`` and a
PyTorch twin of the same network with a searched recipe, on data sets the presets were not
tuned on (see README.md)."""
