"""Networks and their parts: embeddings, interaction functions, gates, FM/DeepFM/IPNN/AIM."""
