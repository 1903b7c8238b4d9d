"""Colour quantization: a photo redrawn with 4, 16 and 64 colours, the colours chosen by
`lloyd fit` on MPI ranks (each pixel is a row of 3 features: red, green, blue).

    /usr/bin/python3 examples/colour_quantization/run.py [--large] [--ranks N]

Default: scikit-learn's china.jpg, every 2nd pixel of every 2nd row (214 x 320 = 68,480 pixels),
2 ranks. --large: both sample photos (china.jpg and flower.jpg) at full resolution, 546,560
pixels quantized with one shared palette, on 4 ranks (or --ranks).

The pixels go to lloyd as they are (uint8 HDF5; lloyd reads integers and computes in float64).
Every K starts from the same K distinct colours of the photo, drawn by numpy with a fixed seed,
passed to lloyd (`--init FILE.h5:/centres`) and to scikit-learn (`KMeans(init=centres,
n_init=1)`): both run the same Lloyd iterations, so their inertias agree but for float64
rounding (measured: 1e-14 relative; checked: within AGREEMENT).
Pictures: colour_quantization.png (the photo and its three quantized versions) and
colour_quantization_palettes.png (each palette, every colour as wide as its share of pixels,
and inertia / PSNR per K).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gallery_common import Checks, arguments, lloyd, save  # noqa: E402

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402

COLOURS = (4, 16, 64)
SEED = 19
# lloyd's inertia / scikit-learn's from the same centres differs from 1 by float64 rounding
# alone (about 1e-14 here, summation order); the check keeps a wide margin for other machines.
AGREEMENT = 1e-9


def photos(large):
    """The photos as (height, width, 3) uint8 arrays: china.jpg subsampled 2 x 2 by default,
    china.jpg and flower.jpg at full resolution with --large."""
    if large:
        return [load_sample_image("china.jpg"), load_sample_image("flower.jpg")]
    return [load_sample_image("china.jpg")[::2, ::2]]


def initial_centres(pixels, k):
    """K distinct colours of the photo, drawn with a fixed seed, each moved by less than half a
    level off the integer grid. Distinct: two equal starting centres would leave a cluster
    empty, which lloyd and scikit-learn repair differently. Off the grid: from integer centres
    some integer pixels lie exactly as far from two of them (50 of the default photo's pixels at
    K=16), and such a tie goes to the lower centre in lloyd's exact distances but either way in
    scikit-learn's |x|^2 - 2 x.c + |c|^2, so the two runs part after the first iteration."""
    colours = np.unique(pixels, axis=0)
    rng = np.random.default_rng(SEED + k)
    chosen = colours[rng.choice(len(colours), size=k, replace=False)].astype(np.float64)
    return chosen + rng.uniform(-0.5, 0.5, size=chosen.shape)


def psnr(mse):
    """Peak signal-to-noise ratio of 8-bit pixels, in dB."""
    return 10 * np.log10(255.0 ** 2 / mse)


def main():
    args = arguments(__doc__)
    started = time.perf_counter()
    images = photos(args.large)
    pixels = np.concatenate([image.reshape(-1, 3) for image in images])
    n = len(pixels)
    data = args.work / "pixels.h5"
    with h5py.File(data, "w") as f:
        f["X"] = pixels  # uint8, as in the photo
    print(f"{n} pixels ({' + '.join(f'{i.shape[1]}x{i.shape[0]}' for i in images)}), "
          f"{args.ranks} ranks")

    checks = Checks(args)
    results = {}
    print(f"{'K':>3} {'iter':>4} {'lloyd inertia':>15} {'sklearn inertia':>15} {'ratio - 1':>10} "
          f"{'PSNR dB':>8} {'lloyd s':>8}")
    for k in COLOURS:
        init = args.work / f"init{k}.h5"
        model = args.work / f"model{k}.h5"
        centres0 = initial_centres(pixels, k)
        with h5py.File(init, "w") as f:
            f["centres"] = centres0
        fit = lloyd(args, "fit", "--input", f"{data}:/X", "--k", k, "--init", f"{init}:/centres",
                    "--output", model, "--json", json_output=True)
        with h5py.File(model, "r") as f:
            centroids, labels = f["centroids"][...], f["labels"][...]
        counts = np.bincount(labels, minlength=k)
        # scikit-learn on the same pixels (as float64, what lloyd computes in) from the same
        # centres, with the same tolerance and iteration limit.
        sk = KMeans(n_clusters=k, init=centres0, n_init=1, algorithm="lloyd", tol=1e-4,
                    max_iter=300).fit(pixels.astype(np.float64))
        ratio = fit["inertia"] / sk.inertia_
        # The quantized photo: every pixel replaced by its cluster's colour (lloyd's /labels).
        quantized = centroids[labels]
        mse = np.mean((quantized - pixels) ** 2)
        results[k] = dict(inertia=fit["inertia"], psnr=psnr(mse), centroids=centroids,
                          counts=counts, quantized=quantized, ratio=ratio)
        print(f"{k:>3} {fit['n_iter']:>4} {fit['inertia']:>15.6e} {sk.inertia_:>15.6e} "
              f"{ratio - 1:>10.1e} {results[k]['psnr']:>8.2f} {fit['seconds']:>8.2f}")
        checks.expect(abs(ratio - 1) <= AGREEMENT,
                      f"K={k}: lloyd's inertia / scikit-learn's = 1 {ratio - 1:+.1e} (within {AGREEMENT:.0e} of 1)")
        # The PSNR drawn is the one lloyd's inertia implies (mean squared error = inertia / 3n).
        checks.expect(np.isclose(mse, fit["inertia"] / (3 * n), rtol=1e-9),
                      f"K={k}: the quantized photo's error is lloyd's inertia / 3n")
    gains = [results[b]["psnr"] - results[a]["psnr"] for a, b in zip(COLOURS, COLOURS[1:])]
    checks.expect(all(g > 2 for g in gains),
                  f"each 4x more colours gains > 2 dB PSNR ({', '.join(f'{g:.1f}' for g in gains)} dB)")
    checks.expect(results[64]["psnr"] > 30, f"64 colours: PSNR {results[64]['psnr']:.1f} dB > 30 dB")

    draw_photos(args, images, results)
    draw_palettes(args, results, n)
    print(f"total {time.perf_counter() - started:.1f} s")
    checks.finish()


def draw_photos(args, images, results):
    """Each photo, original and quantized, in a 2 x 2 block (photos one under the other)."""
    figure, axes = plt.subplots(2 * len(images), 2, figsize=(5.9, 4.1 * len(images) + 0.2),
                                squeeze=False)
    start = 0
    for index, image in enumerate(images):
        height, width = image.shape[:2]
        panels = [(image, "original: all colours")]
        for k in COLOURS:
            part = results[k]["quantized"][start:start + height * width]
            panels.append((np.clip(np.rint(part), 0, 255).astype(np.uint8).reshape(height, width, 3),
                           f"{k} colours: PSNR {results[k]['psnr']:.1f} dB"))
        start += height * width
        for axis, (picture, title) in zip(axes[2 * index:2 * index + 2].ravel(), panels):
            axis.imshow(picture, interpolation="nearest")
            axis.set_title(title, fontsize=9)
            axis.axis("off")
    figure.suptitle("Colour quantization: lloyd fit (K-Means on the RGB pixels) on "
                    f"{args.ranks} ranks", fontsize=10)
    figure.tight_layout()
    save(figure, args, "colour_quantization")
    plt.close(figure)


def draw_palettes(args, results, n):
    """Each palette (colours sorted by brightness, each as wide as its share of the pixels),
    and inertia / PSNR per K."""
    figure = plt.figure(figsize=(9, 3.2))
    grid = figure.add_gridspec(len(COLOURS), 2, width_ratios=(2.2, 1), wspace=0.35)
    for row, k in enumerate(COLOURS):
        axis = figure.add_subplot(grid[row, 0])
        centroids, counts = results[k]["centroids"], results[k]["counts"]
        order = np.argsort(centroids @ np.array([0.299, 0.587, 0.114]))
        left = 0.0
        for j in order:
            share = counts[j] / n
            axis.barh(0, share, left=left, height=1, color=np.clip(centroids[j] / 255, 0, 1))
            left += share
        axis.set_xlim(0, 1)
        axis.set_yticks([])
        axis.set_ylabel(f"K={k}", rotation=0, ha="right", va="center")
        axis.set_xticks([] if row < len(COLOURS) - 1 else [0, 0.25, 0.5, 0.75, 1])
        if row == 0:
            axis.set_title("palettes: width = share of the pixels", fontsize=9)
    axis.set_xlabel("share of the pixels")
    plot = figure.add_subplot(grid[:, 1])
    ks = list(COLOURS)
    plot.plot(ks, [results[k]["inertia"] for k in ks], "o-", color="tab:blue")
    plot.set_xscale("log", base=2)
    plot.set_yscale("log")
    plot.set_xticks(ks, [str(k) for k in ks])
    plot.set_xlabel("K (colours)")
    plot.set_ylabel("inertia (lloyd)", color="tab:blue")
    twin = plot.twinx()
    twin.plot(ks, [results[k]["psnr"] for k in ks], "s--", color="tab:red")
    twin.set_ylabel("PSNR (dB)", color="tab:red")
    plot.set_title(f"inertia and PSNR per K\n(inertia / scikit-learn's: 1 \u00b1 {AGREEMENT:.0e})",
                   fontsize=9)
    save(figure, args, "colour_quantization_palettes")
    plt.close(figure)


if __name__ == "__main__":
    main()
