"""The names of the model's closed sets, without torch: ``aim.config`` validates against them (and stays light
for the app's pages), ``aim.model.interactions`` and ``aim.model.heads`` implement them."""

FUNCTIONS = ("inner", "vkernel", "skernel", "outer")  # aim_reference.md §3; a function's id is its index here
HEADS = ("embeddings", "summed", "products")  # what the re-train MLP reads (aim.model.heads)
