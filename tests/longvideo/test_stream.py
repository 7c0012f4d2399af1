import av
import torch

from mobilevid.longvideo.stream import StreamingDecoder
from mobilevid.models.presets import get_preset
from mobilevid.models.vae import VideoVAE
from mobilevid.sampling import latents_to_pixels
from mobilevid.video_io import VideoStreamWriter


@torch.no_grad()
def test_streamed_decode_equals_whole_video_decode():
    cfg = get_preset("tiny").vae
    vae = VideoVAE(cfg).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # non-identity temporal convs, so context matters
        for t in vae.temporal:
            t.conv.weight.add_(torch.randn(t.conv.weight.shape, generator=g) * 0.05)
    latents = torch.randn(13, cfg.latent_channels, 4, 4, generator=g)
    whole = latents_to_pixels(vae.decode(latents[None]))[0]
    out = []
    dec = StreamingDecoder(vae, out.append, chunk=3)
    assert dec.context == len(vae.temporal) > 0
    for i in range(0, 13, 3):  # frames arrive in blocks of 3
        dec.push(latents[i:i + 3])
    dec.close()
    streamed = torch.cat(out)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-5)
    assert max(t.shape[0] for t in out) <= 3 + 3


def test_stream_writer_is_atomic_and_counts_frames(tmp_path):
    path = tmp_path / "long.mp4"
    with VideoStreamWriter(path, 8.0, 16, 16) as out:
        for _ in range(3):
            out.write(torch.rand(4, 3, 16, 16))
        assert not path.exists()  # appears only when complete
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12
    try:
        with VideoStreamWriter(tmp_path / "broken.mp4", 8.0, 16, 16) as out:
            out.write(torch.rand(2, 3, 16, 16))
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    assert not (tmp_path / "broken.mp4").exists() and len(list(tmp_path.iterdir())) == 1
