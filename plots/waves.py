"""Waveforms and their spectra: plots drawn on an Axes or a Figure that plotserve supplies."""

import enum
from typing import Annotated, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from plotserve import Range

SAMPLES_PER_CYCLE = 200


class Window(enum.Enum):
    """Window applied to the signal before its Fourier transform."""

    HANN = "hann"
    HAMMING = "hamming"
    NONE = "none"


def plot_wave(
    ax: Axes,
    kind: Literal["sine", "square", "sawtooth"] = "sine",
    frequency: Annotated[float, Range(0.1, 10, 0.1)] = 1.0,
    cycles: Annotated[int, Range(1, 20)] = 3,
    noise: float = 0.0,
    grid: bool = True,
    title: str = "Waveform",
) -> None:
    """A few cycles of a sine, square or sawtooth wave, optionally noisy.

    Args:
        kind: Shape of the wave.
        frequency: Cycles per second.
        cycles: Number of whole cycles to draw.
        noise: Standard deviation of the Gaussian noise added to the wave.
        grid: Draw a grid.
        title: Title above the plot.
    """
    if frequency <= 0:
        raise ValueError(f"frequency must be positive, got {frequency}")
    if noise < 0:
        raise ValueError(f"noise must not be negative, got {noise}")
    time = np.linspace(0, cycles / frequency, cycles * SAMPLES_PER_CYCLE + 1)
    phase = frequency * time
    if kind == "sine":
        wave = np.sin(2 * np.pi * phase)
    elif kind == "square":
        wave = np.where(phase % 1 < 0.5, 1.0, -1.0)
    elif kind == "sawtooth":
        wave = 2 * (phase - np.floor(phase + 0.5))
    else:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: sine, square, sawtooth")
    wave = wave + noise * np.random.default_rng(0).standard_normal(time.size)

    ax.plot(time, wave)
    ax.set_xlim(time[0], time[-1])
    ax.set_ylim(min(-1.2, wave.min() - 0.1), max(1.2, wave.max() + 0.1))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_title(title)
    if grid:
        ax.grid(True, alpha=0.4)


def plot_spectrum(
    fig: Figure,
    frequencies: list[float] = (1.0, 2.5, 4.0),
    amplitudes: list[float] = (1.0, 0.5, 0.25),
    window: Window = Window.HANN,
) -> None:
    """A sum of sine waves and its amplitude spectrum, through a choice of window.

    Args:
        frequencies: Frequency of each sine wave, in Hz.
        amplitudes: Amplitude of each sine wave, one per frequency.
        window: Window applied before the Fourier transform; none leaks the most.
    """
    if len(frequencies) != len(amplitudes):
        raise ValueError(
            f"frequencies and amplitudes must have the same length, got {len(frequencies)} frequencies and {len(amplitudes)} amplitudes"
        )
    if not frequencies:
        raise ValueError("give at least one frequency")
    if min(frequencies) <= 0:
        raise ValueError(f"frequencies must be positive, got {list(frequencies)}")
    window = Window(window)

    # Sample well above the highest tone, long enough for 8 cycles of the lowest one,
    # and for a length that leaves most tones between FFT bins, where windows matter.
    sample_rate = 10 * max(frequencies)
    count = int(min(max(512, 8 * sample_rate / min(frequencies)), 2**16))
    time = np.arange(count) / sample_rate
    signal = sum(amplitude * np.sin(2 * np.pi * frequency * time) for frequency, amplitude in zip(frequencies, amplitudes, strict=True))
    if window is Window.HANN:
        taper = np.hanning(count)
    elif window is Window.HAMMING:
        taper = np.hamming(count)
    else:
        taper = np.ones(count)
    # Scaled so that a tone on a bin shows its own amplitude.
    spectrum = np.abs(np.fft.rfft(signal * taper)) * 2 / taper.sum()
    spectrum_freqs = np.fft.rfftfreq(count, 1 / sample_rate)
    level = 20 * np.log10(np.maximum(spectrum, 1e-6))

    fig.set_layout_engine("constrained")
    signal_ax, spectrum_ax = fig.subplots(2, 1, height_ratios=(1, 2))
    signal_ax.plot(time, signal, color="0.75", linewidth=0.8, label="signal")
    signal_ax.plot(time, signal * taper, color="C0", linewidth=0.8, label="windowed")
    signal_ax.set_xlim(time[0], time[-1])
    # Headroom above the signal for the legend.
    peak = max(np.abs(signal).max(), 1e-9)
    signal_ax.set_ylim(-1.15 * peak, 1.9 * peak)
    signal_ax.set_xlabel("time (s)")
    signal_ax.set_ylabel("amplitude")
    signal_ax.legend(loc="upper right", fontsize="small", ncols=2)
    window_name = "no window" if window is Window.NONE else f"{window.value} window"
    signal_ax.set_title(f"{len(frequencies)} tones, {window_name}, {count} samples")

    spectrum_ax.plot(spectrum_freqs, level, color="C0", label="spectrum")
    spectrum_ax.plot(
        frequencies,
        20 * np.log10(np.maximum(np.abs(amplitudes), 1e-6)),
        "o",
        color="C3",
        markerfacecolor="none",
        label="true amplitude",
    )
    spectrum_ax.set_xlim(0, min(sample_rate / 2, 1.5 * max(frequencies)))
    spectrum_ax.set_ylim(max(level.min(), -120) - 5, max(level.max(), 0) + 10)
    spectrum_ax.set_xlabel("frequency (Hz)")
    spectrum_ax.set_ylabel("amplitude (dB)")
    spectrum_ax.grid(True, alpha=0.4)
    spectrum_ax.legend(loc="upper right", fontsize="small")
