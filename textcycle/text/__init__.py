"""The text half of textcycle. The LM generators (`lm_*`) live here; the small seq2seq method
moves here in the layout step of the inference-boundary work."""
