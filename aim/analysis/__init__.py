"""Pure functions from runs and studies to tables and Plotly figures: everything the app shows (and tests check)
without a browser. Nothing here imports Streamlit or trains anything; inputs are a run's ``meta`` dict
(``run.json``) and its tables (``interactions.csv``, ``fields.csv``, ``alpha_snapshots.csv``) as DataFrames, or
a study's summary and its runs' metas.

Terms: a *column* is one (interaction, function) pair with its own gate α; an *interaction* is a set of fields
(``fields`` = "0 3"), kept when any of its columns is kept. One module per view:

    common.py        layout, palette, stable run colours
    runlist.py       the runs table
    interactions.py  α vs statistics AUC (Fig. 7), field × field |α|, α trajectories and replay
    reference.py     |α| vs the independent pair ranking (interactions.csv ref_score, aim/reference.py)
    functions.py     function frequency and functions vs statistics AUC (Fig. 8)
    embeddings.py    embedding size vs vocabulary (Table 6), kept positions, parameters
    sparsity.py      the strength candidates of each stage (validation AUC vs size), the run's warnings
    compare.py       2-4 runs side by side
    studies.py       a study's ablation / complexity tables and charts (Tables 3-5, 7-10)
    export.py        standalone HTML, PNG through a headless Chromium

``from aim import analysis`` gives all of them as ``analysis.<name>``.
"""

from aim.analysis.common import (
                                 DROPPED_COLOR,
                                 FUNCTION_COLORS,
                                 KEPT_COLOR,
                                 PALETTE,
                                 PLANTED_COLOR,
                                 empty_figure,
                                 new_figure,
                                 run_color,
                                 run_colors,
)
from aim.analysis.compare import (
                                 alpha_pairs,
                                 alpha_pairs_figure,
                                 config_diff,
                                 delta_alpha_matrix,
                                 embedding_sizes_by_run,
                                 embedding_sizes_figure,
                                 flatten,
                                 kept_interactions,
                                 metric_bars,
                                 metric_deltas,
                                 overlap_counts,
                                 overlap_summary,
                                 overlap_table,
)
from aim.analysis.embeddings import (
    embed_dim_of,
    embedding_scatter,
    params_summary,
    positions_heatmap,
    positions_matrix,
    unread_fields,
)
from aim.analysis.export import ExportError, figure_html, figure_png, find_chromium
from aim.analysis.functions import (
                                 function_frequency,
                                 function_frequency_by_run,
                                 function_frequency_figure,
                                 functions_per_interaction,
                                 functions_vs_auc_figure,
)
from aim.analysis.interactions import (
                                 alpha_matrix,
                                 alpha_points,
                                 alpha_scatter,
                                 alpha_trajectories,
                                 field_heatmap,
                                 field_names_of,
                                 gates_over_time,
                                 has_alpha,
                                 has_planted,
                                 prepared,
                                 selected_keys,
                                 selection_spec,
                                 snapshot_frame,
                                 snapshot_stages,
                                 sparsification_replay,
                                 spearman,
)
from aim.analysis.reference import caption as reference_caption
from aim.analysis.reference import (
                                 has_reference,
                                 kept_overlap,
                                 planted_recovery,
                                 reference_points,
                                 reference_scatter,
                                 reference_spearman,
                                 reference_table,
)
from aim.analysis.reference import method_name as reference_method
from aim.analysis.reference import summary_text as reference_summary
from aim.analysis.rules import rules_figure, rules_table
from aim.analysis.runlist import RUN_COLUMNS, filter_runs, progress_text, run_row, runs_table
from aim.analysis.sparsity import (
                                 STAGE_TITLES,
                                 candidate_label,
                                 choice_text,
                                 chosen_summary,
                                 frontier_figure,
                                 no_table_note,
                                 prepared_table,
                                 run_warnings,
                                 single_candidate,
                                 sparsity_se,
                                 sparsity_stages,
                                 stage_frontier,
                                 stage_kind,
                                 tolerance,
                                 validation_counts,
                                 warning_mark,
                                 warnings_table,
)
from aim.analysis.studies import (
                                 ablation_table,
                                 fi_ratio_figure,
                                 live_summary,
                                 run_counts,
                                 run_grid,
                                 seed_values,
                                 studies_table,
                                 study_metric_figure,
                                 study_row,
                                 transfer_figure,
                                 transfer_table,
                                 variant_kind,
)
from aim.config import FUNCTIONS

__all__ = [
    "unread_fields",
    "DROPPED_COLOR", "FUNCTIONS", "FUNCTION_COLORS", "KEPT_COLOR", "PALETTE", "PLANTED_COLOR", "RUN_COLUMNS",
    "ExportError", "alpha_matrix", "alpha_pairs", "alpha_pairs_figure", "alpha_points", "alpha_scatter",
    "alpha_trajectories", "config_diff", "delta_alpha_matrix", "embed_dim_of", "embedding_scatter",
    "embedding_sizes_by_run", "embedding_sizes_figure", "empty_figure", "field_heatmap", "field_names_of",
    "figure_html", "figure_png", "filter_runs", "find_chromium", "flatten", "function_frequency",
    "function_frequency_by_run", "function_frequency_figure", "functions_per_interaction", "functions_vs_auc_figure",
    "gates_over_time", "has_alpha", "has_planted", "kept_interactions", "metric_bars", "metric_deltas",
    "new_figure", "overlap_counts", "overlap_summary", "overlap_table", "params_summary", "positions_heatmap",
    "positions_matrix", "prepared", "progress_text", "run_color", "run_colors", "run_row", "runs_table",
    "selected_keys", "selection_spec", "snapshot_frame", "snapshot_stages", "sparsification_replay", "spearman",
    "ablation_table", "fi_ratio_figure", "live_summary", "run_counts", "run_grid", "seed_values", "studies_table",
    "study_metric_figure", "study_row", "transfer_figure", "transfer_table", "variant_kind",
    "STAGE_TITLES", "candidate_label", "choice_text", "chosen_summary", "frontier_figure", "no_table_note", "prepared_table",
    "rules_figure", "rules_table", "run_warnings", "single_candidate", "sparsity_se", "sparsity_stages", "stage_frontier", "stage_kind",
    "tolerance", "validation_counts", "warning_mark", "warnings_table",
    "has_reference", "kept_overlap", "planted_recovery", "reference_caption", "reference_method", "reference_points",
    "reference_scatter", "reference_spearman", "reference_summary", "reference_table",
]
