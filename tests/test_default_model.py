"""The built-in default model ships inside the package and is what generate/eval use without --model."""

from mobilevid.cli.main import main
from mobilevid.pipeline import DEFAULT_MODEL_DIR, Pipeline, resolve_model_dir


def test_default_model_ships_small_and_loads():
    assert resolve_model_dir(None) == DEFAULT_MODEL_DIR
    size = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.rglob("*") if p.is_file())
    assert size <= 40 * 2**20
    pipe = Pipeline.from_pretrained()
    assert pipe.config.preset == "tiny" and pipe.config.num_frames == 16
    assert pipe.vae.config.scaling_factor != 1.0  # a trained VAE: latents were measured and scaled


def test_generate_uses_the_default_model(tmp_path):
    out = tmp_path / "demo.gif"
    assert main(["generate", "a red circle moving right", "--steps", "1", "--frames", "4", "-o", str(out)]) == 0
    assert out.stat().st_size > 0
