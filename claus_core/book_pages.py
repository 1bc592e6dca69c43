"""The book's results pages: one builder per supplementary result, our numbers beside the paper's.

The split: :mod:`claus_core.run_tables` reads the run store into tables; the builders of
:mod:`claus_core.pages` lay out each page from them (``layout``: what every page shares;
``result_pages``: Tables 2-10, Figures 1 and 4, training, the released code; ``study_pages``:
which claims hold and how the study was designed); this module names them (:data:`BUILDERS`).

The book's results notebook calls :func:`build` with a result name and the study's run-store
root; everything it shows (the claim and its verdict, tables, figures, notes) is made here, so
the notebook holds no logic. Every page opens with its claims (:mod:`claus_core.claims`): the
paired difference over seeds with its 95 % interval and the verdict. The study's groups
(``configs/*_study.yaml``; :class:`claus_core.claims.Group`) are named after the results that
read them:

==================  ===========================================================================
group               runs
==================  ===========================================================================
ucf_main            claus, uncertainty, random (Tables 3, 5, 6, 9, Fig. 4)
ucf_baselines       entropy, equidistant (Table 5), on ucf_main's base
ucf_cluster_loss    claus without a cluster limit: the cluster loss alone (Table 3, part 1)
ucf_quota           claus, each cluster its share of the round's videos (Table 3, part 2)
ucf_selection       sample, intra_sample (Table 2; "hybrid" is ucf_main/claus)
ucf_only_frame      claus, new frames only in already selected videos after round 0 (Table 8)
ucf_loss_interpolate, ucf_loss_frame   claus with the other losses (Table 10)
ucf_released        claus with the released code's selection and STeW weights
ucf_k10, ucf_k15    claus with K = 10, 15 clusters (Figure 1; K = 5 is ucf_main/claus)
ucf_full, jhmdb_full  fully supervised (the 100 % rows of Tables 6, 7)
jhmdb_main          claus, uncertainty on SynthJHMDB21 (Tables 2, 4, 7)
==================  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from claus_core.claims import Group
from claus_core.pages.layout import RESULT_TITLES, RESULTS, SAME_RUN, ResultPage, Study, table_page
from claus_core.pages.result_pages import (
    cost_page,
    figure1_page,
    figure4_page,
    paper_efficiency,
    released_page,
    table2_page,
    table5_page,
    table9_page,
    training_page,
)
from claus_core.pages.study_pages import claims_page, design_page
from claus_core.study_report import missing_runs

__all__ = ["BUILDERS", "RESULTS", "RESULT_TITLES", "ResultPage", "Study", "build"]


BUILDERS: dict[str, Callable[[Study], ResultPage]] = {
    "claims": claims_page,
    "table2": table2_page,
    "table3": table_page("table3", "CLAUS against the same uncertainty scores without the cluster limit, on SynthUCF24.",
                          3, {"With Cluster": (Group.UCF_MAIN, "claus"), "Without Cluster": (Group.UCF_MAIN, "uncertainty")},
                          (SAME_RUN,)),
    "table4": table_page("table4", "CLAUS against uncertainty without clusters, on SynthJHMDB21 (real J-HMDB silhouettes).",
                          4, {"With Cluster": (Group.JHMDB_MAIN, "claus"), "Without Cluster": (Group.JHMDB_MAIN, "uncertainty")},
                          ("*Without cluster* is the uncertainty strategy of the same J-HMDB group: the uncertainty scores "
                           "ranked without the cluster limit.",)),
    "table5": table5_page,
    "table6": lambda study: cost_page(study, 6, "Each step of CLAUS on SynthUCF24 with its annotation cost, and the "
                                       f"fully supervised reference. {paper_efficiency(6)}", Group.UCF_MAIN, Group.UCF_FULL),
    "table7": lambda study: cost_page(study, 7, "Each step of CLAUS on SynthJHMDB21 and the fully supervised "
                                       f"reference. {paper_efficiency(7)}", Group.JHMDB_MAIN, Group.JHMDB_FULL),
    "table8": table_page("table8", "After the initial selection, *only frame* adds new frames only to the videos "
                          "already selected (the paper switches after its second step; ours from the first).", 8,
                          {"Sample+Frame": (Group.UCF_MAIN, "claus"), "Only Frame": (Group.UCF_ONLY_FRAME, "claus")}),
    "table9": table9_page,
    "table10": table_page("table10", "CLAUS selection with the three localization losses on SynthUCF24.", 10,
                           {"STeW": (Group.UCF_MAIN, "claus"), "Interpolate": (Group.UCF_LOSS_INTERPOLATE, "claus"),
                            "Frame": (Group.UCF_LOSS_FRAME, "claus")}),
    "figure1": figure1_page,
    "figure4": figure4_page,
    "training": training_page,
    "design": design_page,
    "released": released_page,
}  # fmt: skip


def build(result: str, root: str | Path) -> ResultPage:
    """The page of one result (see :data:`RESULTS`) from the study under ``root``, read afresh.

    Raises :class:`claus_core.study_report.MissingRunsError` naming the runs the page needs and
    the command that makes them, so a notebook on an empty or unfinished store fails instead of
    rendering a page without its numbers.
    """
    if result not in BUILDERS:
        raise ValueError(f"unknown result {result!r}; known: {RESULTS}")
    page = BUILDERS[result](Study.read(root))
    if page.missing:
        runs = sorted(set(page.missing))
        groups = tuple(sorted({run.split("/")[0] for run in runs}))
        raise missing_runs(
            Path(root), f"the {result} page needs runs it cannot find ({', '.join(runs)})", groups
        )
    return page
