"""claus_core: hybrid active learning for video action detection.

Reimplements CLAUS selection and the STeW loss of Rana & Rawat, *Hybrid Active Learning via
Deep Clustering for Video Action Detection* (CVPR 2023). ``docs/architecture.md`` gives the flow
of one active-learning round, the layers, and which module owns which piece of data; every
module docstring names the section of the supplementary material it implements.
"""

__version__ = "0.1.0"
