"""The temporal damping constants shared by Algorithm 1 and STeW (supplementary Sections 5, 6).

The released code works in clip positions at its default skip rate 2: a Gaussian of sigma 4/3
clip steps and a window of 2 clip steps either side. In video frames, the unit used here, that
is sigma 8/3 and 4 frames either side. Algorithm 1 damps the scores around a picked frame with
them (line 10, :mod:`claus_core.selection.algorithm`), and STeW weights the frames around an
annotated one with them (:mod:`claus_core.losses`); both read them from here.
"""

SIGMA = 8 / 3  # width of the Gaussian, in frames
WINDOW = 4  # frames on each side
