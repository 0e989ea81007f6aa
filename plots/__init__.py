"""The example plots plotserve serves when it is given no source (installed as plotserve_examples)."""
