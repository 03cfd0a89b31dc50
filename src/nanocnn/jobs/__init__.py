"""The jobs the command line runs: train and evaluate a model on a task, write a run folder."""
