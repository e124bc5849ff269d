"""The words of the paper and of the app, explained once: the Start page lists them, and every page reuses them as
the ``help=`` tooltip of the widget, metric or column that uses the word (``glossary.tip("alpha")``). Plain text
(Markdown), no Streamlit import."""

from __future__ import annotations

from dataclasses import dataclass

from aim import variants


@dataclass(frozen=True)
class Term:
    term: str  # as the app writes it
    text: str  # one to three sentences, Markdown


TERMS: dict[str, Term] = dict((
    ("alpha", Term("α (interaction gate)", "One gate per interaction-IF column, learnt in the search interaction-IF "
                   "stage. GRDA drives the gates of unhelpful columns to exactly 0; a column is *kept* when its α is "
                   "not 0, and |α| ranks how much the model relies on it.")),
    ("beta", Term("β (dimension gate)", "One gate per embedding dimension of each field, learnt in the search embed "
                  "stage (EDS). A dimension whose β reaches 0 is dropped from the re-trained model.")),
    ("grda", Term("GRDA", "Generalized Regularized Dual Averaging: the optimizer of the gates α and β (everything "
                  "else uses Adam). Its L1 threshold grows during training as c·γ^½·(tγ)^μ, so gates it cannot "
                  "justify become exactly 0 instead of merely small.")),
    ("grda_c", Term("GRDA c", "Scale of GRDA's sparsity threshold: a larger c zeroes more gates (sparser model). "
                    "By default it is not set but derived from the *crossing fraction*.")),
    ("crossing_fraction", Term("crossing fraction", "The strength of a GRDA search stage, stated so that it carries "
                               "over between datasets: the share of the stage's steps after which GRDA's threshold "
                               "reaches the gates' initial value (0.6). A gate with no steady gradient dies about "
                               "then. **Smaller = sparser**; above 1 an idle gate outlives the stage. GRDA's c "
                               "follows from it, the steps, μ and γ. Several values (`0.1,0.2,0.4`) are candidates: "
                               "each trains the stage from the same start and the parsimony rule picks one.")),
    ("parsimony", Term("parsimony rule (one-standard-error rule)", "Among the candidate strengths of a stage, keep "
                       "the **sparsest** whose validation AUC is within k standard errors of the best candidate's "
                       "(Hanley-McNeil standard error of that AUC on the validation set; k = `search.sparsity_se`, "
                       "1 by default, 0 = simply the most accurate). Differences smaller than that are noise, so the "
                       "smaller model wins. The embedding L2 grid takes the best validation AUC.")),
    ("frontier", Term("frontier", "Validation AUC against model size over the candidates of a stage: how much "
                      "accuracy each step of sparsity costs. The shaded band is the parsimony rule's tolerance "
                      "under the best AUC.")),
    ("eds_floor", Term("EDS floor", "EDS keeps at least this many embedding dimensions (`search.eds_floor`, 1 by "
                       "default) of every field a kept interaction reads, so EDS cannot silently delete kept "
                       "interactions; 0 = as the paper, a field may lose every dimension.")),
    ("embed_l2", Term("embedding L2", "L2 penalty on the embedding tables while training the final model (Adam "
                      "weight decay on them). By default chosen on validation from `train.embed_l2_grid` "
                      "(`0,0.01,0.05`): each value trains the final model from the same start, the best validation "
                      "AUC wins.")),
    ("retrain_start", Term("re-train start", "What the re-trained model starts from: **scratch** (a fresh init, "
                           "as the paper) or **search** (warm: the search model's tables at the kept dimensions, "
                           "its gates α and kernels, and an MLP that adds nothing yet). By default both are "
                           "trained, with every embedding L2, and the better validation AUC is kept "
                           "(`search.retrain_start`).")),
    ("head", Term("head", "What the re-trained model's MLP reads: **embeddings**, the raw (EDS-pruned) embeddings "
                  "of every function-wise table (default); **summed**, each field's embedding added up over its "
                  "tables, as many inputs as DeepFM's MLP; **products**, the kept columns' element-wise products, "
                  "as the paper's published code.")),
    ("precision", Term("precision", "The arithmetic of training and evaluation (`train.precision`): **fp32** "
                       "(default) or **bf16**, mixed precision: the matrix products in bfloat16, the weights and "
                       "optimiser in float32. Several times faster where the processor has bfloat16 (recent x86 "
                       "CPUs with AVX512-BF16 or AMX, recent GPUs), slower where it is emulated; the same AUC "
                       "within seed noise in our checks (docs/benchmarks.md).")),
    ("run_warnings", Term("run warnings", "What a reader of a run must not miss, recorded by the run itself "
                          "(`run.json` `warnings`): e.g. EDS removed every dimension of a field kept interactions "
                          "read, or the final model scores below the search-stage model on validation.")),
    ("grda_mu", Term("GRDA μ", "How fast GRDA's threshold grows with the steps t (exponent, between 0 and 1): a "
                     "larger μ makes late training much sparser than early training.")),
    ("grda_gamma", Term("GRDA γ", "GRDA's learning rate for the gates.")),
    ("interaction", Term("interaction", "A set of 2 (pair), 3 or 4 fields whose embeddings are combined, e.g. "
                         "user × item. Its *order* is the number of fields.")),
    ("order", Term("order", "How many fields an interaction combines: 2 for pairs, 3 for triples, 4. Orders above 2 "
                   "are searched among combinations of the kept lower-order interactions (Algorithm 1).")),
    ("interaction_if", Term("interaction-IF column", "One (interaction, interaction function) pair, e.g. user × item "
                            "through the outer product: the unit AIM gates with one α. An interaction is kept when "
                            "any of its columns is kept.")),
    ("functions", Term("interaction functions", "How two embeddings are combined: **inner** product Σ eᵢ·eⱼ (as in "
                       "FM); **vkernel**, the inner product weighted by a learnt vector per pair; **skernel**, the "
                       "inner product times a learnt scalar per pair; **outer**, a low-rank outer product "
                       "(w₁ᵀeᵢ)(w₂ᵀeⱼ). AIM may keep several functions for one interaction.")),
    ("fis", Term("FIS", "Feature Interaction Search: which interactions to keep (the gates α of all their "
                 "columns).")),
    ("ifs", Term("IFS", "Interaction Function Search: which function(s) model each kept interaction (one gate α per "
                 "function, not a softmax choice).")),
    ("eds", Term("EDS", "Embedding Dimension Search: how many (and which) embedding dimensions each field keeps, "
                 "through the gates β. Rare fields typically keep few dimensions, so the model shrinks.")),
    ("fi_ratio", Term("FI ratio", "Share of the interactions of an order that the search kept (kept / all); 100 % "
                      "for the baselines, which use every pair.")),
    ("stats_auc", Term("statistics AUC", "How predictive an interaction is on its own (paper §4.4.2): each test row "
                       "is scored by the click rate of its value combination in the training set, and the AUC of "
                       "that score is the interaction's statistics AUC. No model involved.")),
    ("fig7", Term("Fig. 7", "The paper's scatter of |α| against statistics AUC, one point per interaction: if the "
                  "search works, the kept interactions (large |α|) are the ones with high statistics AUC.")),
    ("fig8", Term("Fig. 8", "The paper's charts of which interaction functions the kept interactions use (left) and "
                  "how many functions an interaction keeps vs its statistics AUC (right).")),
    ("table6", Term("Table 6", "The paper's table of the embedding size EDS keeps per field next to the field's "
                    "vocabulary size.")),
    ("planted", Term("planted pairs", "On synthetic data, the interactions that really drive the label (pairs and "
                     "optionally triples), chosen by the generator. They let the app measure exactly whether the "
                     "search found them (ringed in red on the charts).")),
    ("precision", Term("precision", "On synthetic data: the share of the kept interactions that are planted ones "
                       "(1.0 = nothing kept by mistake).")),
    ("spearman", Term("Spearman ρ", "Rank correlation between statistics AUC and |α| over the points shown: near 1 "
                      "when the gates rank interactions as the data does.")),
    ("fwe_se", Term("FWE / SE", "Function-wise embeddings (one embedding table per interaction function, AIM's "
                    "default) vs a shared embedding (one table for all functions, variants ending in `-se`).")),
    ("variant", Term("variant", "What a run trains: the baselines **fm**, **deepfm**, **ipnn** (every pair, inner "
                     "product, no search), **fwfm**, **xdeepfm**, **autoint**, **dcnv2** (the other comparison "
                     "networks: weighted pairs, CIN, self-attention, cross layers), **autofis** (gates searched on "
                     "DeepFM, then DeepFM on the kept pairs), **lr** and **gbdt** (no embeddings: logistic "
                     "regression, boosted trees); **aim-ifs-eds** (FIS only, inner product only: AutoFIS-like); "
                     "**aim-eds** (FIS + IFS); **aim** (FIS + IFS + EDS); **-se**: shared embedding; "
                     "**-transfer**: DeepFM / IPNN trained on the pairs another AIM run selected.")),
    ("lr", Term("lr (logistic regression)", "The practitioner's first baseline: one weight per id of every field "
                "(one-hot ids; numeric fields are bucketed ids) plus a bias, no interaction at all; scikit-learn, "
                "its L2 strength C chosen on validation AUC from 0.01, 0.1, 1, 10, 100 (ties: the stronger). "
                "Parameters = ids + 1. Its interactions table lists every pair only for their statistics AUC.")),
    ("gbdt", Term("gbdt (boosted trees)", "LightGBM gradient-boosted trees with native categorical splits on every "
                  "id field: interactions are learnt implicitly by deeper splits, not searched. Up to 1000 trees, "
                  "stopped 50 rounds after the best validation AUC, one fixed set of defaults for every dataset. "
                  "Parameters = leaf values + split nodes of the trees kept.")),
    ("transfer", Term("transfer", "A plain DeepFM or IPNN that uses only the interactions an AIM run selected "
                      "(paper §4.6): does AIM's selection help other models?")),
    ("stages", Term("stages", "search interaction-IF (FIS + IFS, GRDA on α) → higher orders (optional) → search "
                    "embed (EDS, GRDA on β) → re-train the selected architecture with Adam.")),
    ("best_baseline", Term("best baseline", "The baseline (" + ", ".join(variants.names(baseline=True)) + ": "
                           "every variant that is not AIM or an ablation of it) with the highest mean test AUC in a "
                           "study; every other variant is t-tested against it.")),
    ("p_value", Term("p", "Two-tailed Student's t-test (pooled variance) of a variant's seeds against the best "
                     "baseline's seeds. The rule (the paper's, the same everywhere in the app, the reports and "
                     "`python -m aim table`): significant when p < 0.005; \\* / † mark significantly better / worse. "
                     "Without a mark a variant is *not significantly different*, even if its mean is higher. The "
                     "best baseline itself has no p (—).")),
    ("pm", Term("±", "Mean ± sample standard deviation (ddof = 1) over the seeds: how much the result moves from one "
                "random seed to the next.")),
    ("no_eds", Term("no EDS", "The variant does not search embedding dimensions, so EDS cut nothing: its parameters "
                    "after EDS are its parameters.")),
    ("auc", Term("AUC", "Area under the ROC curve of the click predictions on held-out rows: higher is better "
                 "(0.5 = random).")),
    ("logloss", Term("log loss", "Binary cross-entropy of the click predictions on held-out rows: **lower is "
                     "better**. A negative Δ log loss is an improvement.")),
    ("kept", Term("kept interactions", "Order-2 interactions whose gates α are not all zero after the search, of "
                  "all the pairs (e.g. 12/45).")),
    ("params", Term("parameters", "Trainable parameters of the re-trained model (after EDS dropped dimensions); "
                   "lr: one weight per id + the bias; gbdt: the trees' leaf values + split nodes.")),
    ("seeds", Term("seeds", "The same variant trained with different random seeds; a study reports mean ± sample "
                   "std over them.")),
    ("study", Term("study", "Several seeds of several variants on one dataset (`python -m aim study`), summarised "
                   "as the paper's ablation and complexity tables.")),
))


def tip(*keys: str) -> str:
    """The glossary texts of ``keys`` as one tooltip (``**term**: text`` paragraphs)."""
    return "\n\n".join(f"**{TERMS[k].term}**: {TERMS[k].text}" for k in keys)
