"""The networks: the seq2seq generators and the style discriminator."""
from .discriminator import StyleDiscriminator, StyleDiscriminatorConfig
from .generator import build_generator, decode, sequence_logprobs, share_embeddings

__all__ = ["StyleDiscriminator", "StyleDiscriminatorConfig", "build_generator", "decode",
           "sequence_logprobs", "share_embeddings"]
