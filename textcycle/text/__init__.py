"""The text half of textcycle: the small seq2seq method and the LM generators (nothing is
imported here, so the torch-free modules stay torch-free).

config.py           the text options, their allowed ranges, the keys a resume must not change
data.py             UnpairedCorpus and its loaders (`python -m textcycle.text.data`)
textnorm.py         corpus form and back (English, Chinese, numbers, symbols, pieces)
vocab.py            SentencePiece ids (no torch)
tokenizer.py        the SentencePiece BPE tokenizer; a run's tokenizer, kept fresh
networks.py         the BART generators, the 3-way discriminator, the decode loop
model.py            TextCycleModel: the saved folder of a small model
reward.py           the training reward (torch or numpy), also the reranker's
rl.py, noise.py     REINFORCE and its baselines; the warm start's style lexicon and noise
selftrain.py        reward-ranked self-training pairs and rounds
schedule.py         Schedule: phase, round, learning rate, the time-limit cut (both text runs)
method.py           TextCycleGAN: the networks, optimisers and one update of each phase
train.py            TrainingRun: the run (`python -m textcycle.train`)
sentence_filter.py  style-bearing training sentences (`python -m textcycle.text.sentence_filter`)
bundle.py           a run made into a shippable model (`python -m textcycle.text.bundle`)
lm_*.py             the LM generators: format, base, model, method, engine, pairs, config, run
"""
