"""The checkers behind each chapter's exercises: ``check_…(answer, …)`` prints ✔ for a right answer and
raises ``Incorrect`` with a hint that names the mistake for a wrong one. They recompute the answer from
references (scikit-learn, torch.distributions, the papers' formulas), never from stored numbers, and
leave the learner's random state, model modes and dtypes as they found them.

One module per family of chapters; ``from dl101.checks import check_…`` finds every checker.
"""
from dl101.checks import autoencoders, diffusion, gan, latent, vae
from dl101.checks._base import QUESTIONS, Choice, check_choice

# Re-export every family's check_… functions here, so notebooks need not know which module holds one.
for _family in (autoencoders, vae, gan, diffusion, latent):
    globals().update({name: obj for name, obj in vars(_family).items() if name.startswith("check_")})
