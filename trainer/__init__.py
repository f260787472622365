"""critmix trainer: token shards, the mixture-aware loader (concatenated windows or decomposed
document pieces, optional metadata prefixes) and the training loop (torch, transformers,
tokenizers, numpy, pyyaml only).

CLI: ``python -m trainer tokenize|train`` (trainer/__main__.py). Python API:
``trainer.data.tokenize.tokenize_shards(shards_dir, tokens_dir, config)``,
``trainer.loop.train(config, curriculum, tokens_dir, out_dir)``,
``trainer.curriculum.load_curriculum / write_curriculum``, ``trainer.config.load_train_config``.
"""
