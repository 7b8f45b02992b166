"""Probe: one epoch of each model family with and without CUDA graphs; checks that both paths
train (loss falls) and measures seconds per epoch. Usage: python benchmarks/graph_probe.py"""
import time

import torch
import torchmetrics
from torch import nn

from dl101 import autoencoders as ae, diffusion as D, gan, vae
from dl101.data import Batches, autoencoder_batches, fashion_mnist
from dl101.training import train

device = torch.device("cuda")
data = fashion_mnist(device=device)
print(torch.__version__, torch.cuda.get_device_name())


def one(name, build, loss, lr, graphs, batches, valid, epochs=1, **kw):
    torch.manual_seed(42)
    model = build().to(device)
    opt = torch.optim.NAdam(model.parameters(), lr=lr)
    torch.cuda.synchronize()
    t = time.perf_counter()
    h = train(model, opt, loss, torchmetrics.MeanSquaredError(squared=False), batches, valid, epochs,
              cuda_graphs=graphs, verbose=False, **kw)
    torch.cuda.synchronize()
    print(f"{name:10s} graphs={graphs!s:5s} {time.perf_counter() - t:6.1f} s  epochs={epochs} "
          f"loss={h['train_loss'][-1]:.4f} train={h['train_metric'][-1]:.4f} valid={h['valid_metric'][-1]:.4f}",
          flush=True)


tb, vb = autoencoder_batches(data.train_x, shuffle=True), autoencoder_batches(data.valid_x, 256)
for graphs in (True, False):
    one("stacked", ae.stacked_autoencoder, nn.MSELoss(), 0.01, graphs, tb, vb)
    one("conv", ae.conv_autoencoder, nn.MSELoss(), 0.005, graphs, tb, vb)
    one("lstm", ae.RecurrentAutoencoder, nn.MSELoss(), 1e-3, graphs, tb, vb)
    one("dropout", lambda: ae.denoising_autoencoder(nn.Dropout(0.5)), nn.MSELoss(), 0.01, graphs, tb, vb)
    one("dvae", vae.DiscreteVAE, vae.discrete_vae_loss, 1e-3, graphs, tb, vb, epochs=2,
        epoch_callback=vae.temperature_annealing(2))
schedule = D.cosine_schedule(4000)
dtb = D.diffusion_batches(data.train_x, schedule)
dvb = D.fixed_diffusion_batches(data.valid_x, schedule)
for graphs in (True, False):
    one("unet", D.DiffusionUNet, nn.HuberLoss(), 3e-3, graphs, dtb, dvb)
for graphs in (True, False):
    torch.manual_seed(42)
    g, d = gan.dcgan_generator(100).to(device), gan.dcgan_discriminator().to(device)
    t = time.perf_counter()
    h = gan.train_gan(g, d, Batches(data.train_x, batch_size=32, shuffle=True), 100, n_epochs=1,
                      cuda_graphs=graphs, verbose=False)
    print(f"dcgan graphs={graphs} {time.perf_counter() - t:.1f} s D={h['d_loss']} G={h['g_loss']}", flush=True)
torch.manual_seed(0)
m = D.DiffusionUNet().to(device)
t = time.perf_counter()
D.ddim_sample(m, schedule, n=32, n_steps=500, progress=False)
torch.cuda.synchronize()
print(f"ddim500 {time.perf_counter() - t:.1f} s")
