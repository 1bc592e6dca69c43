"""claus_core: hybrid active learning for video action detection.

Reimplements CLAUS selection and the STeW loss of Rana & Rawat, *Hybrid Active Learning via
Deep Clustering for Video Action Detection* (CVPR 2023). See ``ARCHITECTURE.md`` for the flow of
one active-learning round; every module docstring names the section of the supplementary
material it implements.
"""

__version__ = "0.1.0"
