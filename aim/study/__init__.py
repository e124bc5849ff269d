"""Studies: several runs × seeds on one dataset, aggregated over the seeds with t-tests. Two kinds (``KINDS``):
``variants`` (every variant × every seed, as in the paper's Tables 2-5, 7-10) and ``fis-vs-stats`` (paper §4.4.2:
the top-N pairs by the gates' |α| against the top-N by statistics AUC and N at random, ``fis_vs_stats``).

Modules: ``tokens`` (variant tokens, seeds, cell configs), ``stats`` (mean ± std, t-tests), ``folder`` (the study
folder and its loader), ``runner`` (running the cells, reuse and resume), ``variants`` and ``fis_vs_stats`` (one
per kind), ``kinds`` (the registry, ``resume_study``), ``tables`` (summaries and table exports). Every public name
is re-exported here: ``from aim.study import ...`` and ``import aim.study as st`` work as before the split.

A study is a folder ``study__{dataset}__{UTC timestamp}`` (under ``--out``, default ``studies/``)::

    study.json    schema_version, kind "study", id, status, created / updated, dataset, variants, seeds,
                  base_config (RunConfig.to_json()), transfer_from, runs {variant: {seed: run path or null}},
                  summary (the rows of summary.csv, NaN as null), best_baseline, error; a fis-vs-stats study adds
                  study_kind, parent, top, reference and selections, its "variants" being the rules
    summary.csv   one row per variant: SUMMARY_COLUMNS, then fi_ratio_order2, fi_ratio_order3, ...
    runs/         the run folders (aim.runs format), one per (variant, seed) attempt
    logs/         the full log of every run: {variant}__seed{seed}.log

Variant *tokens* are the ``RunConfig`` variants plus ``-se`` forms of the AIM ones (``aim-se``: the shared
embedding of paper Table 5; the plain AIM tokens use function-wise embeddings).

Statistics (``summarise``): mean ± *sample* standard deviation (ddof=1, the ± over seeds of the paper's tables)
of the test AUC and log loss of the complete runs; the p-value of each variant against the *best baseline* (the
one of fm / deepfm / ipnn / lr / gbdt in the study with the highest mean test AUC) is the two-tailed **unpaired** t-test
with equal variances (Student's, ``scipy.stats.ttest_ind(..., equal_var=True)``) on the per-seed values;
``significant`` marks p_auc < ``SIGNIFICANCE`` (0.005, the paper's threshold) in either direction; the
table exports mark a significant improvement with ``*`` and a significant degradation with a dagger.

A study is resumable: ``run_study`` on an existing folder (``resume_dir``) or ``resume_study`` reuses every run
that ``aim.runs.load_run`` reads as complete with the expected config, continues a failed or killed run that
checkpointed a stage from its last finished stage (``pipeline.resume``: a killed AIM run does not start over;
the run in flight when the study was stopped is found in ``runs/`` although study.json does not record it yet),
and redoes the other failed, running and missing ones. SIGTERM unwinds a study like Ctrl-C: the run in flight
and the study are marked failed. The summary only ever counts complete runs; the study is ``complete`` only when
every run is; until then ``python -m aim table`` / ``show`` summarise the recorded runs as they are now.
"""

from aim.config import VARIANTS
from aim.study.fis_vs_stats import run_fis_vs_stats
from aim.study.folder import (
    DEFAULT_OUT,
    LOGS_DIR,
    REQUIRED_KEYS,
    RUNS_DIR,
    SCHEMA_VERSION,
    STUDY_FILE,
    STUDY_KINDS,
    SUMMARY_FILE,
    Study,
    is_study,
    load_study,
)
from aim.study.kinds import KINDS, resume_study
from aim.study.stats import (
    FI_PREFIX,
    SIGNIFICANCE,
    SUMMARY_COLUMNS,
    best_baseline,
    json_records,
    summarise,
    ttest_pvalue,
)
from aim.study.tables import (
    TABLE_FORMATS,
    format_rules,
    format_study,
    format_table,
    study_summary,
    study_table,
    to_csv,
    to_latex,
    to_markdown,
)
from aim.study.tokens import (
    BASELINES,
    DEFAULT_VARIANTS,
    SE_SUFFIX,
    TRANSFER_VARIANTS,
    add_transfer_rows,
    default_jobs,
    parse_seeds,
    parse_variants,
    split_token,
    token_of,
    transfer_supported,
    valid_tokens,
    variant_config,
)
from aim.study.variants import run_study

__all__ = [
    "BASELINES", "DEFAULT_OUT", "DEFAULT_VARIANTS", "FI_PREFIX", "KINDS", "LOGS_DIR", "REQUIRED_KEYS", "RUNS_DIR",
    "SCHEMA_VERSION", "SE_SUFFIX", "SIGNIFICANCE", "STUDY_FILE", "STUDY_KINDS", "SUMMARY_COLUMNS", "SUMMARY_FILE",
    "TABLE_FORMATS", "TRANSFER_VARIANTS", "VARIANTS", "Study", "add_transfer_rows", "best_baseline", "default_jobs",
    "format_rules", "format_study", "format_table", "is_study", "json_records", "load_study", "parse_seeds", "parse_variants",
    "resume_study", "run_fis_vs_stats", "run_study", "split_token", "study_summary", "study_table", "summarise",
    "to_csv", "to_latex", "to_markdown", "token_of", "transfer_supported", "ttest_pvalue", "valid_tokens",
    "variant_config",
]
