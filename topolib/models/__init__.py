"""Generative models behind one interface: a VAE, a GAN, a chart autoencoder and a DDPM, each
for images and (``Point...``) for point clouds in R^D.

>>> from topolib.models import VAE
>>> model = VAE(latent_dim=2, size=32)
>>> model.sample(8, generator=0).shape
torch.Size([8, 1, 32, 32])
"""

from topolib.models.blocks import MLP, ConvDecoder, ConvEncoder, seeded_init
from topolib.models.chart_autoencoder import ChartAutoencoder, PointChartAutoencoder
from topolib.models.diffusion import DDPM, PointDDPM
from topolib.models.gan import GAN, PointGAN
from topolib.models.interface import (
    GenerativeModel,
    as_generator,
    check_images,
    check_latents,
    check_points,
    optimise_latents,
)
from topolib.models.latent_spaces import LATENT_SPACES, LatentSpace, get_latent_space
from topolib.models.matched_vae import MatchedVAE, encoder_winding
from topolib.models.oracle import OracleDecoder, oracle_decoder
from topolib.models.vae import VAE, PointVAE

__all__ = [
    "DDPM",
    "GAN",
    "ChartAutoencoder",
    "PointChartAutoencoder",
    "MLP",
    "PointDDPM",
    "PointGAN",
    "PointVAE",
    "VAE",
    "ConvDecoder",
    "ConvEncoder",
    "GenerativeModel",
    "LATENT_SPACES",
    "LatentSpace",
    "MatchedVAE",
    "OracleDecoder",
    "as_generator",
    "check_images",
    "check_latents",
    "check_points",
    "encoder_winding",
    "get_latent_space",
    "optimise_latents",
    "oracle_decoder",
    "seeded_init",
]
