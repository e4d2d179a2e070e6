"""Neuron hardware and image facts (catalog) and the functions that read them."""
