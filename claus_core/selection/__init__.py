"""Hybrid video + frame selection (supplementary Algorithm 1, Tables 2 and 5): :mod:`.algorithm`
(its inputs, output and steps), :mod:`.strategies` (the registry). ``name as name``: re-exported."""

from claus_core.selection.algorithm import RECORD_COLUMNS as RECORD_COLUMNS
from claus_core.selection.algorithm import SCORE_KINDS as SCORE_KINDS
from claus_core.selection.algorithm import Budget as Budget
from claus_core.selection.algorithm import FramePicks as FramePicks
from claus_core.selection.algorithm import SelectionConfig as SelectionConfig
from claus_core.selection.algorithm import SelectionContext as SelectionContext
from claus_core.selection.algorithm import SelectionResult as SelectionResult
from claus_core.selection.algorithm import pick_frames as pick_frames
from claus_core.selection.algorithm import suppression_weights as suppression_weights
from claus_core.selection.strategies import STRATEGIES as STRATEGIES
from claus_core.selection.strategies import Strategy as Strategy
from claus_core.selection.strategies import claus as claus
from claus_core.selection.strategies import initial_selection as initial_selection
from claus_core.selection.strategies import intra_sample as intra_sample
from claus_core.selection.strategies import sample as sample
from claus_core.selection.strategies import uncertainty as uncertainty
