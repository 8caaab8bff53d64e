"""The image CycleGAN sibling of textcycle (Zhu et al. 2017), in pytorch-CycleGAN-and-pix2pix style.

config.py   the options (dataclasses read by textcycle.config.load_config)
data.py     unaligned folders trainA/ trainB/ testA/ testB/ and the transforms
models.py   ResNet generator, PatchGAN, GAN loss, image pool, LR schedule, init
train.py    `python -m textcycle.image.train` (accelerate; checkpoints via textcycle.checkpoint)
export.py   the model folder (config.json + safetensors), sample grids
translate.py  `python -m textcycle.image.translate`: images, folders, an HTML page of test results
evaluate.py   `python -m textcycle.image.evaluate`: domain classifier, FD, KID, cycle L1
mnist.py      the thin -> thick MNIST ground-truth task
"""
