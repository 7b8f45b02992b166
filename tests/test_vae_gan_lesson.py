import torch

from dl101 import vae as V


def test_active_dimensions_counts_the_latent_means_that_vary_over_the_images():
    torch.manual_seed(0)
    model = V.VAE(codings_dim=4)
    with torch.no_grad():  # an encoder whose means are 3·pixel0, 0.05·pixel0, 0, 0: one dimension active
        model.encoder[1].weight.zero_(), model.encoder[1].bias.zero_()
        model.encoder[1].weight[0, 0] = 1.0
        model.encoder[3].weight.zero_(), model.encoder[3].bias.zero_()
        model.encoder[3].weight[0, 0], model.encoder[3].weight[1, 0] = 3.0, 0.05
    images = torch.rand(500, 1, 28, 28)  # Var(3·U) = 0.75 > 0.01, Var(0.05·U) ≈ 2e-4 < 0.01
    assert V.active_dimensions(model, images) == 1
    assert V.active_dimensions(model, images, threshold=1e-4) == 2
    assert V.active_dimensions(model, images, threshold=1.0) == 0


def test_active_dimensions_keeps_the_model_mode():
    model = V.VAE(codings_dim=3).train()
    V.active_dimensions(model, torch.rand(10, 1, 28, 28), batch_size=4)
    assert model.training
