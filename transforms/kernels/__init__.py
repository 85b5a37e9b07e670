"""Numeric helpers of the transforms: compiled window kernels, Arrow streaming, time columns."""
